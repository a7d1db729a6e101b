import time

import pytest
from torch import nn

from model.timing import seconds_inside


class Slow(nn.Module):
    def __init__(self, seconds: float, inner: nn.Module | None = None):
        super().__init__()
        self.seconds, self.inner = seconds, inner

    def forward(self, x):
        time.sleep(self.seconds)
        return self.inner(x) if self.inner is not None else x


class Other(nn.Module):
    def forward(self, x):
        time.sleep(0.05)
        return x


def test_time_inside_named_modules_only_and_nested_ones_once():
    model = nn.Sequential(Slow(0.03), Other(), Slow(0.02, inner=Slow(0.01)))
    spent = seconds_inside(model, ("Slow",), lambda: model(1))
    assert 0.06 <= spent < 0.09  # 0.03 + (0.02 + 0.01 nested, counted once); not Other's 0.05
    assert not model[0]._forward_hooks and not model[0]._forward_pre_hooks  # hooks removed


def test_a_model_without_such_modules_is_an_error():
    with pytest.raises(ValueError, match="no module of class"):
        seconds_inside(nn.Sequential(Other()), ("Attention",), lambda: None)
