"""``python -m assay.testing [--port N] [--model M] [--faults JSON]``: run the mock server."""

from assay.testing.mock_openai import main

main()
