"""``alloc-agents --help``: plain text (no reStructuredText markup), every option explained,
every PPOConfig field listed with its default."""

from __future__ import annotations

import dataclasses

import pytest

from alloc_agents.cli import main
from alloc_agents.ppo.config import PPOConfig


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]])
def test_help_has_no_rst_markup(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = _help(argv, capsys)
    assert "``" not in text and ":class:" not in text
    assert "alloc-agents" in text


def test_train_help_explains_set_and_env_arg_and_lists_every_ppo_field(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = _help(["train", "--help"], capsys)
    flat = " ".join(text.split())
    assert "--set FIELD=VALUE override a PPOConfig field" in flat
    assert "--env-arg KEY=VALUE keyword argument for the env constructor" in flat
    defaults = PPOConfig()
    for field in dataclasses.fields(PPOConfig):
        assert f"{field.name}={getattr(defaults, field.name)!r}" in flat, field.name
