"""A nanoBragg command line as groups (flag and its values), with the variables each group sets.

A flag is an argument that starts with ``-`` and is not a number (as in the
parser's unknown-flag rule); its group runs to the next flag. Which of the C
program's variables (:class:`RawArguments` fields) a group sets is found by
running the parser's own rules for that flag alone on a :class:`RawArguments`
whose fields hold a sentinel: every field no longer holding it was set. This
follows the C's substring matching, e.g. ``-misset_seed`` also setting the
misset angles and ``-twotheta_axis`` also setting the two-theta angle.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

from torch_sim.config.c_numbers import c_atof, c_atoi, is_number
from torch_sim.config.nanobragg_flags import C_RULES, TORCH_SIM_RULES
from torch_sim.config.raw_arguments import RawArguments
from torch_sim.errors import InputError

_UNSET = object()


@dataclass
class ArgumentGroup:
    """``tokens``: the flag (None before the first flag) and its values; ``fields``: RawArguments fields it sets."""

    tokens: list
    fields: frozenset

    @property
    def flag(self) -> Optional[str]:
        return self.tokens[0] if self.tokens and is_flag(self.tokens[0]) else None


class _LenientValues:
    """The values after a flag read like C ``atof``/``atoi`` (only which fields get set matters here)."""

    def __init__(self, flag: str, args: Sequence[str]):
        self.flag, self.args = flag, list(args)

    def float(self, k: int = 0) -> float:
        return c_atof(self.args[k])

    def int(self, k: int = 0) -> int:
        return c_atoi(self.args[k])

    def text(self, k: int = 0) -> str:
        return self.args[k]

    def vector(self) -> tuple:
        return (self.float(0), self.float(1), self.float(2))


def is_flag(token: str) -> bool:
    return token.startswith("-") and not is_number(token)


def _sentinel_arguments() -> RawArguments:
    raw = RawArguments()
    for field in dataclasses.fields(raw):
        value = getattr(raw, field.name)
        setattr(raw, field.name, [_UNSET] * len(value) if isinstance(value, list) else _UNSET)
    return raw


def fields_set_by(flag: str, following: Sequence[str]) -> frozenset:
    """RawArguments fields that ``flag`` followed by ``following`` (the rest of argv) sets."""
    raw = _sentinel_arguments()
    for rules in (C_RULES, TORCH_SIM_RULES):
        for rule in rules:
            if not rule.matches(flag):
                continue
            if rule.when is not None and not (len(following) >= rule.nargs and rule.when(following)):
                continue
            if len(following) < rule.nargs:
                continue
            try:
                rule.action(raw, _LenientValues(flag, following[: max(rule.nargs, 6)]))
            except InputError:
                pass
            if rule.stop:
                break
    changed = set()
    for field in dataclasses.fields(raw):
        value = getattr(raw, field.name)
        if (any(v is not _UNSET for v in value) if isinstance(value, list) else value is not _UNSET):
            changed.add(field.name)
    return frozenset(changed)


def argument_groups(argv: Sequence[str]) -> list[ArgumentGroup]:
    """``argv`` split into groups, in order; concatenating their tokens gives ``argv`` back."""
    argv = list(argv)
    starts = [i for i, token in enumerate(argv) if is_flag(token)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    groups = []
    for start, end in zip(starts, starts[1:] + [len(argv)]):
        tokens = argv[start:end]
        fields = fields_set_by(tokens[0], argv[start + 1:]) if tokens and is_flag(tokens[0]) else frozenset()
        groups.append(ArgumentGroup(tokens, fields))
    return [group for group in groups if group.tokens]
