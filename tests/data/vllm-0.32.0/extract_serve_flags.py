"""Writes serve_flags.txt from vLLM's own `vllm serve` parser (run by hand, not by the tests).

    .venv-vllm/bin/python extract_serve_flags.py > options.txt  (then the header of serve_flags.txt)

It runs with vLLM's CPU build (make test installs it in .venv-vllm); no GPU is needed: the
device check that runs while the parser is built is switched off.
"""

import vllm.config.device as device_config
from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.utils.argparse_utils import FlexibleArgumentParser

device_config.DeviceConfig.__post_init__ = lambda self: None  # no GPU needed to list options


def parses_json_only(convert: object) -> bool:
    if not callable(convert):
        return False
    try:
        convert('{"a": 1}')
    except Exception:
        return False
    try:
        convert("not json {")
    except Exception:
        return True
    return False


def main() -> None:
    parser = ServeSubcommand().subparser_init(FlexibleArgumentParser(prog="vllm")
                                              .add_subparsers())
    rows = set()
    for action in parser._actions:
        for option in action.option_strings:
            if not option.startswith("--"):
                continue
            kind = "flag" if action.nargs == 0 else "many" if action.nargs in ("*", "+") \
                else "value"
            if kind != "flag" and parses_json_only(action.type):
                kind = "json"
            rows.add((option, kind))
    for option, kind in sorted(rows):
        print(option, kind)


if __name__ == "__main__":
    main()
