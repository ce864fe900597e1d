"""Config loading: every bad key or value is one clear error naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bulksend.config import AutoPauseConfig, check_max_batch, check_seconds, finite_positive, secret_from_env
from bulksend.errors import ConfigError
from bulksend.providers import build_provider, load_config, parse_config

GOOD = {"provider": "sinch_xms", "service_plan_id": "p", "region": "eu", "token_env": "TOK",
        "rate": 30, "burst": 200, "max_batch": 200}


def plan(**changes: Any) -> dict[str, Any]:
    table = dict(GOOD)
    table.update(changes)
    return {"plans": {"spring": {k: v for k, v in table.items() if v is not None}}}


def test_good_plan() -> None:
    p = parse_config(plan()).plan("spring")
    assert (p.base_url, p.rate, p.burst, p.max_batch, p.concurrency) == (
        "https://eu.sms.api.sinch.com", 30.0, 200, 200, 8)


@pytest.mark.parametrize(("changes", "message"), [
    ({"rat": 3}, "unknown key plans.spring.rat"),
    ({"rate": "fast"}, "plans.spring.rate must be int or float"),
    ({"rate": 0}, "plans.spring.rate must be at least"),
    ({"burst": 10}, "burst (10) must be at least max_batch (200)"),
    ({"provider": "carrier-pigeon"}, "plans.spring.provider: unknown provider"),
    ({"provider": None}, "plans.spring.provider is required"),
    ({"region": "mars"}, "plans.spring.region"),
    ({"base_url": "http://sms.example.com"}, "plain http is only allowed to loopback"),
    ({"base_url": "ftp://x"}, "not an http(s) URL"),
    ({"concurrency": True}, "plans.spring.concurrency must be int"),
    ({"retry": {"attempts": 0}}, "plans.spring.retry.attempts must be at least 1"),
    ({"retry": {"tries": 3}}, "unknown key plans.spring.retry.tries"),
    ({"token": "abc"}, "unknown key plans.spring.token"),
    ({"auto_pause": "yes"}, "plans.spring.auto_pause must be a table, true or false, not 'yes'"),
    ({"auto_pause": {"max_error_rate": 1}}, "plans.spring.auto_pause.max_error_rate must be below 1"),
    ({"auto_pause": {"windw": 5}}, "unknown key plans.spring.auto_pause.windw"),
    ({"rate": float("nan")}, "plans.spring.rate must be a finite number, not nan"),
    ({"rate": float("inf")}, "plans.spring.rate must be a finite number, not inf"),
    ({"timeout": float("nan")}, "plans.spring.timeout must be a finite number"),
    ({"timeout": float("-inf")}, "plans.spring.timeout must be a finite number"),
    ({"retry": {"deadline": float("inf")}}, "plans.spring.retry.deadline must be a finite number"),
    ({"retry": {"max": float("nan")}}, "plans.spring.retry.max must be a finite number"),
    ({"auto_pause": {"max_error_rate": float("nan")}}, "max_error_rate must be a finite number"),
])
def test_bad_values_name_the_key(changes: dict[str, Any], message: str) -> None:
    if "base_url" in changes:
        changes["region"] = None
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(plan(**changes))


@pytest.mark.parametrize(("value", "expected"), [
    (None, AutoPauseConfig(window=20, max_error_rate=0.5)),   # on unless switched off
    (True, AutoPauseConfig()),
    (False, None),
    ({"window": 5}, AutoPauseConfig(window=5, max_error_rate=0.5)),
    ({"max_error_rate": 0.2}, AutoPauseConfig(window=20, max_error_rate=0.2)),
])
def test_auto_pause_is_on_by_default(value: Any, expected: AutoPauseConfig | None) -> None:
    assert parse_config(plan(auto_pause=value)).plan("spring").auto_pause == expected


def test_unknown_top_level_key() -> None:
    with pytest.raises(ConfigError, match="unknown key plan"):
        parse_config({"plan": {}})


def test_unknown_plan_lists_known() -> None:
    with pytest.raises(ConfigError, match="no plan named 'x' \\(plans: spring\\)"):
        parse_config(plan()).plan("x")


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[plans.x\nrate = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)


def test_shipped_configs_load() -> None:
    root = Path(__file__).parent.parent / "configs"
    for path in sorted(root.glob("*.toml")):
        assert load_config(path).plans, path


def test_token_from_env_and_file(tmp_path: Path) -> None:
    p = parse_config(plan()).plan("spring")
    assert secret_from_env({"TOK": "t1"}, "TOK", p) == "t1"
    secret = tmp_path / "tok"
    secret.write_text("t2\n", encoding="utf-8")
    assert secret_from_env({"TOK_FILE": str(secret)}, "TOK", p) == "t2"
    with pytest.raises(ConfigError, match="environment variable TOK, which is not set"):
        secret_from_env({}, "TOK", p)


def test_loopback_plan_falls_back_to_sandbox_token() -> None:
    p = parse_config(plan(region=None, base_url="http://127.0.0.1:9")).plan("spring")
    assert secret_from_env({}, "TOK", p) == "sandbox"


def test_build_provider_checks_batch_limit() -> None:
    with pytest.raises(ConfigError, match="above what sinch_xms allows"):
        build_provider(parse_config(plan(max_batch=1500, burst=1500)).plan("spring"), {"TOK": "x"})


def test_a_provider_brings_its_own_keys_and_url() -> None:
    # What a new provider module hands the config reader: its keys and its
    # default URL. config.py itself names no provider.
    from collections.abc import Mapping

    from bulksend import config as config_module

    class Pigeon:
        keys = frozenset({"loft"})

        @staticmethod
        def base_url(options: Mapping[str, Any], given: str | None, where: str, source: str) -> str:
            return given or f"https://{options.get('loft', 'home')}.pigeon.example"

    raw = {"plans": {"p": {"provider": "pigeon", "loft": "north", "rate": 1, "burst": 200}}}
    p = config_module.parse_config(raw, "<t>", {"pigeon": Pigeon()}).plan("p")
    assert (p.base_url, dict(p.options)) == ("https://north.pigeon.example", {"loft": "north"})
    with pytest.raises(ConfigError, match="unknown key plans.p.region"):
        config_module.parse_config({"plans": {"p": {**raw["plans"]["p"], "region": "eu"}}}, "<t>",
                                   {"pigeon": Pigeon()})


def test_lower_layers_import_nothing_above_them() -> None:
    # config sits below providers; delivery sits below webhooks.
    import ast

    root = Path(__file__).parent.parent / "bulksend"

    def imports(path: Path) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        return found

    assert not {m for m in imports(root / "config.py") if m.startswith("bulksend.providers")}
    for path in (root / "delivery").glob("*.py"):
        assert not {m for m in imports(path) if m.startswith("bulksend.webhooks")}, path


def test_nan_in_a_toml_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[plans.a]\nprovider = "sinch_xms"\nservice_plan_id = "p"\nrate = nan\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.toml: plans\.a\.rate must be a finite number, not nan"):
        load_config(path)


@pytest.mark.parametrize(("value", "message"), [
    (0, "--max-batch 0: must be a whole number of recipients, at least 1"),
    (-5, "--max-batch -5: must be"),
    (True, "--max-batch True: must be"),
    (201, "--max-batch 201: above plan spring's max_batch (200)"),
])
def test_max_batch_is_at_least_1_and_never_above_the_plans(value: Any, message: str) -> None:
    spring = parse_config(plan()).plan("spring")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_max_batch(value, spring)
    check_max_batch(200, spring)
    check_max_batch(None, spring)


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), "3"])
def test_seconds_are_finite_and_not_negative(value: Any) -> None:
    with pytest.raises(ConfigError, match="--stop-timeout .*: must be a finite number of seconds, at least 0"):
        check_seconds(value, "--stop-timeout")
    check_seconds(0, "--stop-timeout")
    check_seconds(2.5, "--stop-timeout")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "0", "-3", "fast"])
def test_a_rate_typed_on_the_command_line_is_finite_and_positive(text: str) -> None:
    with pytest.raises(ValueError):
        finite_positive(text)
    assert finite_positive("12.5") == 12.5
