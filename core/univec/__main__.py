"""``python -m univec``: the ``univec`` command line."""

from univec.cli import main

if __name__ == "__main__":
    main(prog_name="univec")
