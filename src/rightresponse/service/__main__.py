"""``python -m rightresponse.service [OPTIONS]``: the same command as ``rightresponse serve``."""

from __future__ import annotations


def main(argv=None):
    from ..cli import serve

    return serve.main(args=argv, prog_name="python -m rightresponse.service")


if __name__ == "__main__":
    main()
