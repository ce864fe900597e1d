"""Output files are safe: never an input, never an existing file without --force,
checked writable before the first batch leaves, created 0600."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.errors import InputError
from bulksend.outputs import check_outputs, create_private, open_private
from tests.helpers import write_config, write_numbers


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write: chmod 0500, or (root ignores modes) a read-only mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("root, and no read-only mount possible here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


# -- the rule itself -------------------------------------------------------------
def test_an_output_that_is_an_input_by_any_name_is_refused(tmp_path: Path) -> None:
    data = write_numbers(tmp_path / "list.txt", 3)
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    for other in ("link.csv", "hard.csv", "./list.txt"):
        path = str(tmp_path / other) if other != "./list.txt" else os.path.relpath(data)
        with pytest.raises(InputError, match=r"^--results .* is .*list.txt, an input of this run"):
            check_outputs({"--results": path}, [str(data)], force=True)  # --force never allows it


def test_two_outputs_in_one_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--rejects .*out.csv is also --results"):
        check_outputs({"--results": str(tmp_path / "out.csv"), "--rejects": str(tmp_path / "out.csv")}, [])


def test_an_existing_file_needs_force_and_a_folder_must_exist(tmp_path: Path) -> None:
    existing = tmp_path / "out.csv"
    existing.write_text("keep me")
    with pytest.raises(InputError, match=f"^--results {existing} exists; pass --force to overwrite it$"):
        check_outputs({"--results": str(existing)}, [])
    check_outputs({"--results": str(existing)}, [], force=True)
    with pytest.raises(InputError, match=f"folder {tmp_path / 'nope'} does not exist"):
        check_outputs({"--results": str(tmp_path / "nope" / "out.csv")}, [])
    with pytest.raises(InputError, match="is a folder"):
        check_outputs({"--out": str(tmp_path)}, [], force=True)
    check_outputs({"--out": "-", "--results": None, "--rejects": "/dev/null"}, [])  # stdout, none, a device
    assert existing.read_text() == "keep me"


def test_an_unwritable_folder_is_refused(read_only_dir: Path) -> None:
    with pytest.raises(InputError, match=f"folder {read_only_dir} cannot be written"):
        check_outputs({"--results": str(read_only_dir / "out.csv")}, [])


def test_files_are_created_0600_and_existing_ones_only_with_force(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    with create_private(str(path)) as f:
        f.write("a\n")
    assert mode(path) == 0o600
    with pytest.raises(InputError, match="exists; pass --force"):
        create_private(str(path))
    old = tmp_path / "old.csv"
    old.write_text("x" * 100)
    old.chmod(0o644)
    with open_private(str(old)) as f:
        f.write("b\n")
    assert old.read_text() == "b\n" and mode(old) == 0o600


# -- send and resume ---------------------------------------------------------------
def send_argv(config: Path, numbers: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi", "--campaign", "c",
            "--journal", str(tmp_path / "j.db"), "--no-progress", *extra]


@pytest.mark.parametrize("journal", [True, False])
@pytest.mark.parametrize("flag", ["--results", "--rejects"])
def test_an_output_pointing_at_the_list_is_refused_and_the_list_untouched(
        sandbox_process, tmp_path: Path, capsys, journal: bool, flag: str) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    before = numbers.read_bytes()
    (tmp_path / "alias.csv").symlink_to(numbers)
    extra = [flag, str(tmp_path / "alias.csv"), "--force"] + ([] if journal else ["--no-journal"])
    assert main(send_argv(config, numbers, tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert err == f"bulksend: {flag} {tmp_path / 'alias.csv'} is {numbers}, an input of this run; write it to another file\n"
    assert numbers.read_bytes() == before and sb.stats()["plans"] == {}
    assert not (tmp_path / "j.db").exists()  # refused before the journal was opened: no campaign left behind


@pytest.mark.parametrize("input_name", ["c.toml", "j.db", "x.txt"])
def test_results_over_the_config_the_journal_or_an_exclude_list_are_refused(
        sandbox_process, tmp_path: Path, capsys, input_name: str) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    exclude = write_numbers(tmp_path / "x.txt", 2)
    if input_name == "j.db":  # a journal from an earlier campaign
        assert main(send_argv(config, numbers, tmp_path)) == 0
        sent = sb.stats()["plans"]["p1"]["recipients"]
    else:
        sent = 0
    target = tmp_path / input_name
    before = target.read_bytes()
    argv = send_argv(config, numbers, tmp_path, "--exclude", str(exclude), "--results", str(target), "--force")
    argv[argv.index("c", argv.index("--campaign"))] = "d"
    assert main(argv) == 2
    assert "an input of this run" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert sb.stats()["plans"].get("p1", {}).get("recipients", 0) == sent


@pytest.mark.parametrize("journal", [True, False])
def test_existing_results_need_force_and_are_then_overwritten_0600(
        sandbox_process, tmp_path: Path, capsys, journal: bool) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    (tmp_path / "n.txt").open("a").write("not-a-number\n")
    results = tmp_path / "out.csv"
    results.write_text("precious\n")
    results.chmod(0o644)
    extra = ["--results", str(results)] + ([] if journal else ["--no-journal"])
    assert main(send_argv(config, numbers, tmp_path, *extra)) == 2
    assert capsys.readouterr().err == f"bulksend: --results {results} exists; pass --force to overwrite it\n"
    assert results.read_text() == "precious\n" and sb.stats()["plans"] == {}
    assert main(send_argv(config, numbers, tmp_path, *extra, "--force")) == 0
    assert results.read_text().startswith("msisdn,status") and mode(results) == 0o600
    rejects = tmp_path / "out.rejects.csv"
    assert "not-a-number" in rejects.read_text() and mode(rejects) == 0o600
    if journal:
        assert mode(tmp_path / "j.db") == 0o600
    assert sb.stats()["plans"]["p1"]["recipients"] == 50


@pytest.mark.parametrize("journal", [True, False])
def test_an_unwritable_results_folder_is_refused_before_anything_is_sent(
        sandbox_process, tmp_path: Path, capsys, read_only_dir: Path, journal: bool) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    for target in (read_only_dir / "out.csv", tmp_path / "missing" / "out.csv"):
        extra = ["--results", str(target)] + ([] if journal else ["--no-journal"])
        assert main(send_argv(config, numbers, tmp_path, *extra)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--results {target}: folder" in err
    assert sb.stats()["plans"] == {}


def test_resume_checks_its_results_file_too(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 20)
    assert main(send_argv(config, numbers, tmp_path)) == 0
    resume = ["resume", "c", "-c", str(config), "--journal", str(tmp_path / "j.db"), "--no-progress"]
    assert main([*resume, "--results", str(numbers)]) == 2
    assert "is " + str(numbers) + ", an input of this run" in capsys.readouterr().err
    assert main([*resume, "--results", str(tmp_path / "j.db")]) == 2
    assert main([*resume, "--results", str(tmp_path / "r.csv")]) == 0


# -- report --out --------------------------------------------------------------------
def test_report_out_is_never_the_journal_nor_an_existing_file_without_force(
        sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 20)
    journal = tmp_path / "j.db"
    assert main(send_argv(config, numbers, tmp_path)) == 0
    capsys.readouterr()
    (tmp_path / "alias.db").symlink_to(journal)
    before = journal.read_bytes()
    report = ["report", "c", "--journal", str(journal)]
    assert main([*report, "--out", str(tmp_path / "alias.db"), "--force"]) == 2
    assert "an input of this run" in capsys.readouterr().err and journal.read_bytes() == before
    assert main([*report, "--out", str(tmp_path / "c.toml"), "-c", str(config), "--force"]) == 2
    assert "an input of this run" in capsys.readouterr().err
    out = tmp_path / "report.csv"
    out.write_text("precious\n")
    assert main([*report, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"bulksend: --out {out} exists; pass --force to overwrite it\n"
    assert out.read_text() == "precious\n"
    assert main([*report, "--out", str(out), "--force"]) == 0
    assert len(out.read_text().splitlines()) == 21 and mode(out) == 0o600
    fresh = tmp_path / "fresh.csv"
    assert main([*report, "--out", str(fresh)]) == 0 and mode(fresh) == 0o600
    assert main([*report, "--out", str(tmp_path / "missing" / "r.csv")]) == 2


# -- loadtest --report ---------------------------------------------------------------
def test_loadtest_report_is_checked_before_the_run(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    run = ["loadtest", "-c", str(config), "--plan", "a", "--rate", "50", "--duration", "0.2"]
    (tmp_path / "c.html").symlink_to(config)
    before = config.read_bytes()
    assert main([*run, "--report", str(tmp_path / "c.html"), "--force"]) == 2
    assert "an input of this run" in capsys.readouterr().err and config.read_bytes() == before
    assert main([*run, "--report", str(tmp_path / "missing" / "r.html")]) == 2
    assert "folder" in capsys.readouterr().err
    existing = tmp_path / "r.html"
    existing.write_text("precious")
    assert main([*run, "--report", str(existing)]) == 2
    assert existing.read_text() == "precious"
    assert sb.stats()["plans"] == {}  # nothing was sent for any of them
    assert main([*run, "--report", str(existing), "--force"]) == 0
    assert existing.read_text().startswith("<!")


def test_the_inbound_log_and_the_delivery_store_are_created_0600(tmp_path: Path) -> None:
    import asyncio

    from bulksend.delivery.store import SqliteDeliveryStore
    from bulksend.outputs import append_private

    log = tmp_path / "inbound.jsonl"
    with append_private(str(log)) as f:
        f.write(b"{}\n")
    with append_private(str(log)) as f:  # appended, never truncated
        f.write(b"{}\n")
    assert log.read_bytes() == b"{}\n{}\n" and mode(log) == 0o600

    async def open_store() -> None:
        async with SqliteDeliveryStore(tmp_path / "d.db"):
            pass

    asyncio.run(open_store())
    assert mode(tmp_path / "d.db") == 0o600
