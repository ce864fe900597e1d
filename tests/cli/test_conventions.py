"""CLI conventions: --version, lazy start-up, did-you-mean, help on every option,
completion, rich help only on a terminal, config discovery, logging."""

from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bulksend import __version__
from bulksend.cli import COMMANDS, build_parser, find_config, logs, main
from bulksend.cli.parser import BulksendParser, suggestion, use_rich_help
from tests.helpers import write_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "numbers.csv"
HEAVY = ("aiohttp", "numpy", "bulksend.engine")


def exits(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert exits(["--version"], capsys)[:2] == (0, f"bulksend {__version__}\n")


def imported_by(argv: list[str]) -> set[str]:
    code = ("import sys\nfrom bulksend.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False)
    return set(done.stderr.split())


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["sned"],
                                  *[[name, "--help"] for name in COMMANDS]])
def test_help_imports_no_engine_aiohttp_or_numpy(argv: list[str]) -> None:
    modules = imported_by(argv)
    assert "bulksend.cli.parser" in modules  # it did run
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}, argv


def test_top_level_help_lists_every_command_with_its_own_summary(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser(full=True)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {c.dest: c.help for c in subs._choices_actions} == COMMANDS
    code, out, _ = exits(["--help"], capsys)
    assert code == 0 and all(name in out for name in COMMANDS) and "BULKSEND_CONFIG" in out


def test_every_option_of_every_command_has_help() -> None:
    parser = build_parser(full=True)
    missing = []
    for name, sub in [("bulksend", parser), *parser.subparsers().items()]:
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help: {missing}"


@pytest.mark.parametrize(("argv", "hint"), [
    (["sned"], "did you mean 'send'?"),
    (["stauts"], "did you mean 'status'?"),
    (["count", "--jsn", "hi"], "did you mean '--json'?"),
    (["send", "-c", "x", "--plan", "a", "-r", "n", "-m", "hi", "--dry-rn"], "did you mean '--dry-run'?"),
    (["send", "-c", "x", "--plan", "a", "-r", "n", "--format", "csvv"], "did you mean 'csv'?"),
])
def test_mistypes_get_a_suggestion(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = exits(argv, capsys)
    assert code == 2 and hint in err and "Traceback" not in err


def test_no_suggestion_for_a_word_far_from_all() -> None:
    assert suggestion("unrecognized arguments: --zzzzzz", ["--json", "--plan"]) == ""


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_know_commands_and_options(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "bulksend" in script and "loadtest" in script and "--recipients" in script and "--dry-run" in script


def test_rich_help_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    def formatter(tty: bool, no_color: bool) -> str:
        monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        else:
            monkeypatch.delenv("NO_COLOR", raising=False)
        parser = BulksendParser(prog="x")
        use_rich_help(parser)
        return parser.formatter_class.__name__

    assert formatter(tty=True, no_color=False) == "RichHelpFormatter"
    assert formatter(tty=True, no_color=True) == "HelpFormatter"
    assert formatter(tty=False, no_color=False) == "HelpFormatter"


# -- config discovery -------------------------------------------------------------
def test_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = argparse.Namespace(config="given.toml")
    assert find_config(given, {"BULKSEND_CONFIG": "env.toml"}) == "given.toml"
    assert find_config(argparse.Namespace(config=None), {"BULKSEND_CONFIG": "env.toml"}) == "env.toml"
    assert find_config(argparse.Namespace(config=None), {}) is None
    (tmp_path / "bulksend.toml").write_text("", encoding="utf-8")
    assert find_config(argparse.Namespace(config=None), {}) == "bulksend.toml"
    assert find_config(argparse.Namespace(config=None), {"BULKSEND_CONFIG": "env.toml"}) == "env.toml"


def dry_run(capsys: pytest.CaptureFixture[str], *extra: str) -> int:
    capsys.readouterr()
    return main(["send", "--plan", "a", "-r", str(EXAMPLES), "-m", "Hi", "--dry-run", "--json", *extra])


def test_send_finds_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BULKSEND_CONFIG", raising=False)
    with pytest.raises(SystemExit) as info:
        dry_run(capsys)
    assert info.value.code == 2 and "BULKSEND_CONFIG" in capsys.readouterr().err
    write_config(tmp_path / "bulksend.toml", "http://127.0.0.1:9")
    assert dry_run(capsys) == 0 and json.loads(capsys.readouterr().out)["recipients"] == 20
    (tmp_path / "bulksend.toml").write_text("[plans.b]\nprovider = 'sinch_xms'\n", encoding="utf-8")
    write_config(tmp_path / "env.toml", "http://127.0.0.1:9")
    monkeypatch.setenv("BULKSEND_CONFIG", str(tmp_path / "env.toml"))
    assert dry_run(capsys) == 0  # the variable wins over ./bulksend.toml (which has no plan a)
    monkeypatch.setenv("BULKSEND_CONFIG", str(tmp_path / "nowhere.toml"))
    assert dry_run(capsys, "-c", str(tmp_path / "env.toml")) == 0  # and --config over the variable


# -- logging ------------------------------------------------------------------------
def test_log_level_from_flags() -> None:
    assert logs.level_of(0, 0, None) == logging.WARNING
    assert logs.level_of(1, 0, None) == logging.INFO
    assert logs.level_of(3, 0, None) == logging.DEBUG
    assert logs.level_of(0, 1, None) == logging.ERROR
    assert logs.level_of(2, 0, "error") == logging.ERROR


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_and_bodies_never_reach_the_log(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token, key, body = "tok-3f9a8b7c6d", "s3cr3t-classic", "Your one-time code is 918273"
    monkeypatch.setenv("BULKSEND_SANDBOX_TOKEN", token)
    monkeypatch.setenv("CLASSIC_APP_SECRET", key)
    logs.redact(body)
    stream = io.StringIO()
    handler = logs.configure(logging.DEBUG, fmt, stream)
    log = logging.getLogger("bulksend.test")
    try:
        log.info("sending with Authorization: Bearer %s and key %s", token, key)
        log.warning(f"provider echoed {body!r}")
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            log.exception("failed")
    finally:
        logs.unconfigure(handler)
    text = stream.getvalue()
    assert token not in text and key not in text and body not in text
    assert text.count(logs.MASK) >= 4 and "Bearer ***" in text
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert [r["level"] for r in lines] == ["info", "warning", "error"] and "exc" in lines[2]


def test_log_flags_before_or_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    for argv in (["--log-format", "json", "-vv", "count", "hi"], ["count", "hi", "-vv", "--log-format", "json"]):
        assert main(argv) == 0
        records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert records and records[0]["logger"] == "bulksend.cli" and "command count" in records[0]["msg"]
    assert main(["-q", "send", "-c", str(config), "--plan", "a", "-r", str(EXAMPLES), "-m", "Hi", "--dry-run"]) == 0
    assert capsys.readouterr().err == ""


def test_constants_copied_to_keep_parsing_light_agree_with_their_homes() -> None:
    from bulksend.campaigns.report import FORMATS
    from bulksend.cli import listen, report
    from bulksend.serving import RESERVED_FDS, ServeLimits
    from bulksend.webhooks.app import MAX_BODY

    assert listen.MAX_BODY == MAX_BODY and tuple(report.FORMATS) == tuple(FORMATS)
    d = ServeLimits()
    assert (listen.MAX_CONNECTIONS, listen.READ_TIMEOUT, listen.IDLE_TIMEOUT, listen.RESERVED_FDS) == (
        d.max_connections, d.header_timeout, d.idle_timeout, RESERVED_FDS)
    assert d.body_timeout == d.header_timeout  # --read-timeout sets both


def test_sandbox_with_a_found_config_without_a_sandbox_table_serves_the_default(tmp_path: Path) -> None:
    from bulksend.cli.sandbox import sandbox_config

    args = build_parser("sandbox").parse_args(["sandbox"])
    assert sandbox_config(args).open_plans  # no config at all
    args.config = str(write_config(tmp_path / "bulksend.toml", "http://127.0.0.1:9"))
    assert sandbox_config(args).open_plans  # plans, but no [sandbox] table
    (tmp_path / "s.toml").write_text("[sandbox.plans.p1]\nrate = 10\n", encoding="utf-8")
    args.config = str(tmp_path / "s.toml")
    config = sandbox_config(args)
    assert not config.open_plans and list(config.plans) == ["p1"]
