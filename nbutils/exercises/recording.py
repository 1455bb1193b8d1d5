"""See how a learner's function computes its answer.

While the function runs, :class:`Recording` (a ``TorchFunctionMode``) counts
the torch operations it calls, keeps the largest tensor they create, and
notes the first call of a forbidden operation. ``TorchFunctionMode`` sees every
public torch function and ``Tensor`` method (``torch.linalg.inv``,
``Tensor.inverse``, ``torch.autograd.grad``, ``Tensor.backward``,
``torch.nn.functional.batch_norm``, factories like ``torch.eye``), but not
plain Python functions that call no torch function first, such as
``torch.func.jacrev``; those are seen by their code object, through
:meth:`Recording.on_python_call`, which the time limit's trace hook calls for
every Python function the learner's thread enters.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import CodeType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode, resolve_name

# Names that compute the same thing, so forbidding one forbids all.
_ALIASES = (
    {"torch.linalg.inv", "torch.linalg.inv_ex", "torch.inverse", "torch.Tensor.inverse"},
    {"torch.linalg.pinv", "torch.pinverse", "torch.Tensor.pinverse"},
    {"torch.Tensor.backward", "torch.autograd.backward"},
    {"torch.func.jacrev", "torch.func.jacfwd", "torch.autograd.functional.jacobian"},
    {"torch.func.hessian", "torch.autograd.functional.hessian"},
    {"torch.func.vjp", "torch.autograd.functional.vjp"},
    {"torch.func.jvp", "torch.autograd.functional.jvp"},
)
# A function of one of these namespaces is also forbidden under the same name in the others
# (torch.softmax, torch.Tensor.softmax, torch.nn.functional.softmax, torch.special.softmax).
_SIBLING_NAMESPACES = ("torch", "torch.Tensor", "torch.nn.functional", "torch.linalg", "torch.special")


def resolve(dotted: str) -> Any:
    """The object a public torch name such as ``"torch.linalg.inv"`` refers to; ValueError if none."""
    parts = dotted.split(".") if isinstance(dotted, str) else []
    if not parts or parts[0] != "torch":
        raise ValueError(f"a forbidden name must be a public torch name such as 'torch.linalg.inv', got {dotted!r}.")
    value: Any = torch
    for depth, part in enumerate(parts[1:], start=2):
        value = getattr(value, part, None)
        if value is None:
            raise ValueError(f"{dotted!r} is not a torch function: {'.'.join(parts[:depth])} does not exist.")
    return value


# What forbids computing a derivative by automatic differentiation: ``{name: message for name in AUTOGRAD}``.
AUTOGRAD = ("torch.autograd.grad", "torch.Tensor.backward", "torch.func.grad", "torch.func.grad_and_value",
            "torch.func.vjp", "torch.func.jvp", "torch.func.jacrev", "torch.func.jacfwd", "torch.func.hessian",
            "torch.func.linearize", "torch.autograd.functional.*")

# What forbids leaving torch for NumPy or Python numbers: ``{name: message for name in LEAVING_TORCH}``. An answer
# that leaves (implicitly: NumPy or SciPy on a tensor calls Tensor.__array__; or by .numpy(), .tolist(), .item(),
# DLPack) and loops or calls a library there escapes the operation count and every torch declaration.
# torch.utils.dlpack.to_dlpack is a C function the recording does not see yet; it is declared so that it is
# refused once it does.
LEAVING_TORCH = ("torch.Tensor.numpy", "torch.Tensor.__array__", "torch.Tensor.tolist", "torch.Tensor.item",
                 "torch.Tensor.__dlpack__", "torch.Tensor.__dlpack_device__", "torch.utils.dlpack.to_dlpack")


def _is_operation(value: Any) -> bool:
    return callable(value) and not inspect.isclass(value) and not inspect.ismodule(value)


def _names_for(declared: str) -> dict[str, Any]:
    """Every public name that ``declared`` forbids (itself, its aliases, or a module's functions for "x.*")."""
    if declared.endswith(".*"):
        module = resolve(declared[:-2])
        names = {f"{declared[:-2]}.{n}": getattr(module, n) for n in dir(module) if not n.startswith("_")}
        names = {name: value for name, value in names.items() if inspect.isroutine(value)}
        if not names:
            raise ValueError(f"{declared!r} names no torch functions.")
        return names
    value = resolve(declared)
    if not _is_operation(value):
        raise ValueError(f"{declared!r} is not a torch function.")
    names = {declared: value}
    for group in _ALIASES:
        if declared in group:
            names.update({alias: resolve(alias) for alias in sorted(group)})
    namespace, _, short = declared.rpartition(".")
    if namespace in _SIBLING_NAMESPACES:
        for other in _SIBLING_NAMESPACES:
            try:
                sibling = resolve(f"{other}.{short}")
            except ValueError:
                continue
            if _is_operation(sibling):
                names.setdefault(f"{other}.{short}", sibling)
    return names


@dataclass(frozen=True)
class ChapterFunction:
    """Declares "do not call the chapter's own function": calling it is not the derivation asked for.

    The function is recognised as the object the chapter binds to ``name`` in
    the namespace the answer was written in (so an alias such as ``f =
    conv_output_size`` is caught, and so is passing it to ``check`` itself),
    and, anywhere, by its ``docstring`` (a verbatim copy pasted under another
    name). A formula written out by hand, under any name, passes.
    """

    name: str
    docstring: str
    message: str

    def __post_init__(self):
        if not (self.name.isidentifier() and self.docstring and self.message):
            raise TypeError("ChapterFunction needs the chapter's function name, its docstring and a message, "
                            f"got {self!r}.")


class Forbidden:
    """Forbidden torch operations and chapter functions, each with the message shown when the answer calls it.

    ``messages`` maps public names (``"torch.linalg.inv"``, ``"torch.func.*"``)
    to messages. A message that names the forbidden operation is shown with
    the alias that was actually called ("your answer calls
    torch.Tensor.inverse; ..."), and ``{name}`` in a message stands for it.
    ``chapter_functions`` are :class:`ChapterFunction` declarations.
    """

    def __init__(self, messages: Mapping[str, str], chapter_functions: Sequence[ChapterFunction] = ()):
        if not isinstance(messages, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in messages.items()):
            raise TypeError("forbidden must map torch names to messages, e.g. "
                            "{'torch.linalg.inv': 'your answer calls torch.linalg.inv; solve the system instead'}.")
        if not all(isinstance(f, ChapterFunction) for f in chapter_functions):
            raise TypeError("chapter_functions must be ChapterFunction declarations, e.g. ChapterFunction("
                            "'conv_output_size', 'its docstring', 'your answer calls the chapter's function').")
        self.messages = dict(messages)
        self.chapter_functions = tuple(chapter_functions)
        self.messages.update({f.name: f.message for f in self.chapter_functions})
        self._by_docstring = {f.docstring: (f.name, f.name) for f in self.chapter_functions}
        self._by_object: dict[int, tuple[str, str]] = {}
        self._by_code: dict[CodeType, tuple[str, str]] = {}
        self._keep_alive = []  # the objects whose ids are keys of _by_object
        for declared in messages:
            for public, value in _names_for(declared).items():
                self._keep_alive.append(value)
                self._by_object.setdefault(id(value), (declared, public))
                code = getattr(inspect.unwrap(value), "__code__", None)
                if isinstance(code, CodeType):
                    self._by_code.setdefault(code, (declared, public))

    def match_object(self, func: Any) -> tuple[str, str] | None:
        return self._by_object.get(id(func))

    def match_code(self, code: CodeType) -> tuple[str, str] | None:
        found = self._by_code.get(code)
        if found is None and self._by_docstring and code.co_consts[:1]:
            docstring = code.co_consts[0]
            found = self._by_docstring.get(docstring) if isinstance(docstring, str) else None
        return found

    def chapter_codes(self, answer: Any) -> dict[int, tuple[str, str]]:
        """The ids of the code of each declared chapter function bound in the namespace ``answer`` was
        written in (by identity: a function of the same text written elsewhere is the learner's own)."""
        namespace = getattr(answer, "__globals__", None)
        if not isinstance(namespace, dict):
            return {}
        codes = {}
        for declared in self.chapter_functions:
            code = getattr(namespace.get(declared.name), "__code__", None)
            if isinstance(code, CodeType):
                codes[id(code)] = (declared.name, declared.name)
        return codes

    def message(self, declared: str, used: str) -> str:
        """The message for a call of ``used``, which ``declared`` forbids, naming ``used``."""
        return self.messages[declared].replace(declared, used).replace("{name}", used)


class ForbiddenCall(BaseException):
    """Raised into the learner's function when it calls a forbidden operation: the answer is refused anyway,
    so the forbidden operation (which may be slow, e.g. torch.func's first call imports torch._dynamo) never runs."""


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor in ``value``, also inside tuples, lists and dicts (a tuple of gradients, a dict of Jacobians)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)


def stored_elements(tensor: torch.Tensor) -> int:
    """Elements of memory a tensor holds: its storage, so a view or an ``expand`` costs nothing extra."""
    try:
        return tensor.untyped_storage().nbytes() // max(tensor.element_size(), 1)
    except (RuntimeError, NotImplementedError, TypeError):  # meta or functorch-wrapped tensors have no storage
        return tensor.numel()


def largest_input(args: tuple, kwargs: dict) -> int:
    """Elements of the largest tensor among the arguments (0 when there is none)."""
    return max((t.numel() for t in tensors_in((args, kwargs))), default=0)


def operation_name(func: Any) -> str:
    """The public name of a torch operation, e.g. ``torch.Tensor.__mul__`` or ``torch.autograd.grad``."""
    name = resolve_name(func)
    if name:
        return name
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(func)


class Recording(TorchFunctionMode):
    """What one call of the learner's function did: operations called, largest tensor made, forbidden calls.

    ``operations`` counts the torch operations called directly (not those a
    torch function calls internally); ``largest`` is ``(elements, shape, name
    of the operation)`` of the largest tensor created; ``forbidden_call`` is
    ``(declared, used)`` for the first forbidden operation called, or None;
    that call raises :class:`ForbiddenCall` instead of running.
    """

    def __init__(self, forbidden: Forbidden | None = None):
        super().__init__()
        self.forbidden = forbidden
        self.operations = 0
        self.largest: tuple[int, tuple[int, ...], str] = (0, (), "")
        self.forbidden_call: tuple[str, str] | None = None
        self._chapter_codes: dict[int, tuple[str, str]] = {}

    def run(self, func, args: tuple, kwargs: dict):
        if self.forbidden is not None:
            self._chapter_codes = self.forbidden.chapter_codes(func)
        with self:
            return func(*args, **kwargs)

    def on_python_call(self, code: CodeType) -> None:
        if self.forbidden is not None and self.forbidden_call is None:
            self.forbidden_call = self._chapter_codes.get(id(code)) or self.forbidden.match_code(code)
            if self.forbidden_call is not None:
                raise ForbiddenCall

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.operations += 1
        if self.forbidden is not None and self.forbidden_call is None:
            self.forbidden_call = self.forbidden.match_object(func)
            if self.forbidden_call is not None:
                raise ForbiddenCall
        result = func(*args, **(kwargs or {}))
        for tensor in tensors_in(result):
            size = stored_elements(tensor)
            if size > self.largest[0]:
                self.largest = (size, tuple(tensor.shape), operation_name(func))
        return result
