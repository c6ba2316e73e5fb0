"""``python -m assay.testing [--port N] [--model M] [--faults JSON]``: run the mock server.

``python -m assay.testing traffic --endpoint URL [...]``: send simulated production traffic
(see :mod:`assay.testing.traffic`).
"""

import sys

if sys.argv[1:2] == ["traffic"]:
    from assay.testing.traffic import main as traffic_main

    sys.exit(traffic_main(sys.argv[2:]))

from assay.testing.mock_openai import main

main()
