"""Fixtures built once per test module inside transactions that stay open while the module's tests run, each test
running in a savepoint of them and getting its own copies of the objects — what Django's `TestCase.setUpTestData`
does, for pytest functions.

`conftest.py` builds the `world` this way for every module that asks for it. A module shares a heavier fixture of
its own with `@shared_fixture`: it is built in a layer (a savepoint) above the world when the first test that asks
for it runs, and rolled back before a test that does not ask for it, so no test sees rows it did not ask for. The
module's tests are ordered so that those asking for the same shared fixtures run together (`order_items`).

Transactional tests (browser, concurrency, faults) cannot run inside a transaction: before one of them the module's
transactions are rolled back, and its fixtures are built as plain fixtures.
"""

import copy
import inspect

import pytest


def is_transactional(item) -> bool:
    """As pytest-django decides it (`_django_db_helper`): the test runs outside any transaction."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in ("transactional_db", "live_server", "django_db_reset_sequences"))


class SharedBuilder:
    def __init__(self, func):
        self.func = func
        self.args = list(inspect.signature(func).parameters)


_builders: dict[int, SharedBuilder] = {}  # id(fixture object) -> its builder


def module_builders(module) -> dict[str, SharedBuilder]:
    """The shared fixtures a test module defines or imports, by name."""
    return {name: _builders[id(value)] for name, value in vars(module).items() if id(value) in _builders}


def shared_names(item) -> tuple[str, ...]:
    """The module's shared fixtures this test asks for (directly or through other fixtures), world aside."""
    builders = module_builders(item.module) if getattr(item, "module", None) else {}
    return tuple(sorted(name for name in builders if name in item.fixturenames))


class SharedWorld:
    """The module's world and shared fixtures, each in its own transaction layer."""

    def __init__(self, blocker, module):
        self.blocker = blocker
        self.builders = module_builders(module)
        self.layers: list[tuple[str, object]] = []  # (fixture name, its atomic block), the world first
        self.values: dict[str, object] = {}
        self.memo: dict = {}  # one test's copies: a shared fixture's objects refer to that test's copy of the world

    @property
    def open(self) -> bool:
        return bool(self.layers)

    def _push(self, name: str, build) -> None:
        from django.db import transaction

        atomic = transaction.atomic()
        atomic._from_testcase = True  # as Django's TestCase marks its own: a durable block inside is allowed
        atomic.__enter__()
        self.layers.append((name, atomic))
        try:
            self.values[name] = build()
        except BaseException:
            self._pop()
            raise

    def _pop(self) -> None:
        from django.db import transaction

        name, atomic = self.layers.pop()
        self.values.pop(name, None)
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)

    def start(self, build_world) -> None:
        with self.blocker.unblock():
            self._push("world", build_world)

    def prepare(self, names) -> None:
        """Make the layers exactly the world plus `names` (and what they need), before a test sets up."""
        needed = set()

        def need(name):
            if name not in needed:
                needed.add(name)
                for arg in self.builders[name].args:
                    if arg != "world":
                        need(arg)
        for name in names:
            need(name)
        with self.blocker.unblock():
            while len(self.layers) > 1 and any(layer not in needed for layer, _ in self.layers[1:]):
                self._pop()
            for name in self._in_dependency_order(needed):
                if name not in self.values:
                    builder = self.builders[name]
                    self._push(name, lambda builder=builder: builder.func(
                        **{arg: self.values[arg] for arg in builder.args}))

    def _in_dependency_order(self, names) -> list[str]:
        ordered: list[str] = []

        def visit(name):
            if name in ordered:
                return
            for arg in self.builders[name].args:
                if arg != "world":
                    visit(arg)
            ordered.append(name)
        for name in sorted(names):
            visit(name)
        return ordered

    def copy(self, name: str):
        return copy.deepcopy(self.values[name], self.memo)

    def close(self) -> None:
        with self.blocker.unblock():
            while self.layers:
                self._pop()


def shared_fixture(func):
    """A fixture built once per test module, above the `world`, inside the module's transactions; each test gets
    its own copy. Its arguments may only be `world` and other shared fixtures. Use it for what many tests of a
    module set up the same way and only read, or change in the database (a file written stays written: restore a
    shared fixture's files that a test alters)."""
    builder = SharedBuilder(func)

    def fixture(request, _shared_world, db):
        shared = _shared_world
        if shared is not None and shared.open and func.__name__ in shared.values and not is_transactional(request.node):
            return shared.copy(func.__name__)
        return func(**{arg: request.getfixturevalue(arg) for arg in builder.args})

    fixture.__name__, fixture.__doc__, fixture.__module__ = func.__name__, func.__doc__, func.__module__
    fixture = pytest.fixture(name=func.__name__)(fixture)
    _builders[id(fixture)] = builder
    return fixture


def order_items(items) -> None:
    """Within each run of a module's tests of one kind (in a transaction or not), run together those that ask for
    the same shared fixtures, so each is built once."""
    start = 0
    while start < len(items):
        first = items[start]
        end = start + 1
        while end < len(items) and getattr(items[end], "module", None) is getattr(first, "module", None) and \
                is_transactional(items[end]) == is_transactional(first):
            end += 1
        items[start:end] = sorted(items[start:end], key=shared_names)
        start = end
