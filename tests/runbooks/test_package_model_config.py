"""`exitplan package --publish STACK` packages what the stack promises Triton
(`triton.max_batch_size`, `triton.dynamic_batching`) and refuses options that contradict it."""

from __future__ import annotations

import pytest
import typer

from components.spec import ModelConfig
from runbooks.commands.package import _stores
from tests.conftest import ROOT


def test_publishing_takes_the_stacks_model_config() -> None:
    stores, config = _stores(ROOT, ["aws-primary"], None, None)
    assert stores["aws-primary"].startswith("s3://")
    assert config == ModelConfig(32, True)
    assert _stores(ROOT, ["aws-primary"], 32, True)[1] == config


def test_an_option_contradicting_the_stack_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="contradicts what aws-primary promise"):
        _stores(ROOT, ["aws-primary"], 8, None)
    with pytest.raises(typer.BadParameter, match="dynamic_batching=on"):
        _stores(ROOT, ["aws-primary"], None, False)


def test_without_a_stack_the_options_decide() -> None:
    assert _stores(ROOT, [], None, False) == ({}, ModelConfig(8, False))
