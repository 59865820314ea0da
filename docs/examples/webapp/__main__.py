"""`python -m webapp --data-dir DIR [--database-url URL] [--host H] [--port P]`."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve the application with uvicorn."""
    parser = argparse.ArgumentParser(prog="webapp", description=__doc__)
    parser.add_argument("--data-dir", help="folder for tasks, jobs and the database")
    parser.add_argument("--database-url", help="SQLite path/URL or PostgreSQL URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    app = create_app(args.database_url, args.data_dir)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
