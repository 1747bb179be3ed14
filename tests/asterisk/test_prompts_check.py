"""`hotline prompts check`: the sound files a PBX is missing, from its sounds directory or a listing."""

from __future__ import annotations

import argparse
import io

import pytest

from hotline import cli
from hotline.telephony.asterisk import prompts_build, prompts_check

LANGUAGES = ("en-US", "zh-CN")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    prompts_check.add_arguments(parser)
    return parser.parse_args(list(argv))


def every_name(settings) -> list[str]:
    return sorted(f.name for f in prompts_build.sound_files(settings, LANGUAGES, None, vocabulary=True))


async def test_a_sounds_dir_with_two_files_missing(settings, tmp_path, capsys) -> None:
    names = every_name(settings)
    gone = {"hotline/en-US/welcome", "hotline/zh-CN/num/qian"}
    for name in names:
        if name not in gone:
            path = tmp_path / f"{name}.{'gsm' if name.endswith('goodbye') else 'wav'}"  # any format counts
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"RIFF")
    assert await prompts_check.run(parse("--sounds-dir", str(tmp_path)), settings) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == sorted(gone)
    assert f"2 of {len(names)} sound files missing" in err


async def test_a_listing_made_on_the_pbx_with_everything_present(settings, tmp_path, capsys, monkeypatch) -> None:
    listing = "".join(f"/var/lib/asterisk/sounds/{name}.wav\n" for name in every_name(settings))
    monkeypatch.setattr("sys.stdin", io.StringIO(listing + "/var/lib/asterisk/sounds/en/hello-world.gsm\n"))
    assert await prompts_check.run(parse("--listing", "-"), settings) == 0
    out, err = capsys.readouterr()
    assert out == "" and "all " in err


def test_through_the_command_line(settings, tmp_path, capsys, monkeypatch) -> None:
    listing = tmp_path / "sounds.txt"
    listing.write_text("/srv/pbx/sounds/hotline/en-US/welcome.wav\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database.url)
    # main() points the root logger at this test's captured stderr, which closes with the test
    monkeypatch.setattr(cli, "configure_logging", lambda level, fmt: None)
    code = cli.main(["prompts", "check", "--listing", str(listing), "--root", "/srv/pbx/sounds",
                     "--language", "en-US", "--no-vocabulary"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert "hotline/en-US/welcome" not in out and "hotline/en-US/goodbye" in out


@pytest.mark.parametrize("argv", [["--sounds-dir", "{tmp}/nowhere"], ["--listing", "{tmp}/no-listing.txt"]])
async def test_an_unreadable_source_is_a_clear_error(settings, tmp_path, capsys, argv) -> None:
    args = parse(*[a.format(tmp=tmp_path) for a in argv])
    assert await prompts_check.run(args, settings) == 2
    assert "cannot read the sound files" in capsys.readouterr().err
