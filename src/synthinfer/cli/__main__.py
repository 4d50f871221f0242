"""``python -m synthinfer.cli``: the ``synthinfer`` command line."""

from synthinfer.cli._app import main

if __name__ == "__main__":
    main()
