"""An example web backend (FastAPI) embedding fractal_core; see README.md."""
