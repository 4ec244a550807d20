"""Node images: `node_images/<image>/image.yaml` plus the config templates it names.

An image says *what* to put into a host and how to run it (files to render or copy, the
daemon's own config check, start command, readiness check, stop); `lifecycle` says *when*
and *where*. Loading validates image.yaml with pydantic and reports problems as
`file:line:col: yaml.path: message`, like topology files.

Templates use one tiny syntax, everywhere (config templates and the strings of image.yaml):
`{{ name }}` is replaced by the context value `name`; an unknown name is an error naming the
file and line. Nothing else is special, so FreeRADIUS' own `${...}` and `%{...}` pass through.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..model.errors import ModelError, Problem, suggest
from ..model.units import Duration
from ..model.yamlsrc import load_yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_IMAGE_DIR = REPO / "node_images"
IMAGE_PATH_ENV = "MPA_IMAGE_PATH"   # extra image directories, searched first (os.pathsep)


class ImageError(ModelError):
    """An image is missing, invalid, or one of its templates cannot be rendered."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSpec(_Strict):
    """One file of the image directory: rendered from a template, or copied (e.g. the PKI)."""
    to: str = Field(description="path relative to the node's image directory")
    template: str | None = Field(None, description="template file in the image's folder")
    copy_from: str | None = Field(None, alias="copy", description="absolute path to copy")
    mode: str = Field("0644", pattern=r"^0[0-7]{3}$", description="octal file mode")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.template is None) == (self.copy_from is None):
            raise ValueError("give exactly one of 'template' or 'copy'")
        return self


class FragmentSpec(_Strict):
    """A template rendered once per item of a context list; the joined text becomes `{{ name }}`."""
    template: str
    each: str = Field(description="name of a list in the context (see docs/images.md)")
    join: str = "\n"


class ReadySpec(_Strict):
    """When the daemon counts as started; every condition given must hold."""
    log: str | None = Field(None, description="regex searched in the daemon's log")
    port: str | None = Field(None, pattern=r"^(tcp|udp)/\S+$",
                             description="'udp/1812' or 'tcp/22': a socket bound to that port")
    file: str | None = Field(None, description="a path that exists once the daemon is up")
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _something(self):
        if self.log is None and self.port is None and self.file is None:
            raise ValueError("give at least one of 'log', 'port' or 'file'")
        return self


class StopSpec(_Strict):
    signal: Literal["TERM", "INT", "QUIT", "HUP"] = "TERM"
    grace: Duration = Field(5.0, description="then SIGKILL")


class ImageSpec(_Strict):
    description: str = ""
    daemon: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$",
                        description="log name: <run>/logs/<node>/<daemon>.log")
    context: str = Field("base", description="which model facts the templates see")
    dirs: list[str] = Field(default_factory=list, description="empty directories to make")
    fragments: dict[str, FragmentSpec] = Field(default_factory=dict)
    files: list[FileSpec] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    check: list[str] | None = Field(None, description="the daemon's own config check")
    start: list[str] = Field(min_length=1, description="runs in the foreground in the node")
    ready: ReadySpec
    load: list[str] | None = Field(None, description="run once ready (e.g. swanctl --load-all)")
    stop: StopSpec = Field(default_factory=StopSpec)


class Image:
    """A loaded image: its name, folder and validated spec."""

    def __init__(self, name: str, folder: Path, spec: ImageSpec):
        self.name, self.folder, self.spec = name, folder, spec

    @property
    def file(self) -> Path:
        return self.folder / "image.yaml"

    def __repr__(self) -> str:
        return f"Image({self.name!r}, {str(self.folder)!r})"


def image_path(extra: list[str | Path] | None = None) -> list[Path]:
    """Folders searched for images: `extra`, then $MPA_IMAGE_PATH, then node_images/."""
    env = [p for p in os.environ.get(IMAGE_PATH_ENV, "").split(os.pathsep) if p]
    return [Path(p) for p in (extra or [])] + [Path(p) for p in env] + [DEFAULT_IMAGE_DIR]


def find_image(name: str, path: list[Path]) -> Path | None:
    for folder in path:
        if (folder / name / "image.yaml").is_file():
            return folder / name
    return None


def load_image(name: str, path: list[Path] | None = None) -> Image:
    path = image_path() if path is None else path
    folder = find_image(name, path)
    if folder is None:
        known = sorted({p.parent.name for d in path for p in d.glob("*/image.yaml")})
        raise ImageError([Problem(name, 1, 1, "", f"no image '{name}'{suggest(name, known)} in "
                                  f"{', '.join(map(str, path))}; known: {', '.join(known)}")])
    file = folder / "image.yaml"
    try:
        data, smap = load_yaml(file.read_text(), str(file))
    except ModelError as exc:
        raise ImageError(exc.problems) from None
    if not isinstance(data, dict):
        raise ImageError([Problem(str(file), 1, 1, "", "expected a mapping with keys "
                                  + ", ".join(ImageSpec.model_fields))])
    try:
        spec = ImageSpec.model_validate(data)
    except ValidationError as exc:
        raise ImageError([_problem(err, smap) for err in exc.errors()]) from None
    missing = [(("files", i, "template"), f.template) for i, f in enumerate(spec.files)
               if f.template and not (folder / f.template).is_file()]
    missing += [(("fragments", k, "template"), f.template) for k, f in spec.fragments.items()
                if not (folder / f.template).is_file()]
    if missing:
        raise ImageError([smap.problem(p, f"template '{t}' not found in {folder}")
                          for p, t in missing])
    return Image(name, folder, spec)


def _problem(err: dict, smap) -> Problem:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        return smap.problem(loc, f"unknown key '{loc[-1]}'"
                            f"{suggest(str(loc[-1]), _allowed(loc[:-1]))}", key=True)
    if err["type"] == "missing":
        return smap.problem(loc[:-1], f"missing required key '{loc[-1]}'")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] != "value_error":
        msg += f" (got {err.get('input')!r})"
    return smap.problem(loc, msg)


def _allowed(loc: tuple) -> list[str]:
    models = {"files": FileSpec, "fragments": FragmentSpec, "ready": ReadySpec, "stop": StopSpec}
    if not loc:
        return list(ImageSpec.model_fields)
    model = models.get(loc[0])
    if model is FileSpec:
        return ["to", "template", "copy", "mode"]
    return list(model.model_fields) if model else []


# -- rendering -------------------------------------------------------------------------------
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_text(text: str, context: dict, where: str) -> str:
    """Replace every `{{ name }}`; an unknown name raises ImageError at `where`:line."""
    def value(m: re.Match) -> str:
        name = m.group(1)
        if name not in context or isinstance(context[name], (list, dict)):
            line = text.count("\n", 0, m.start()) + 1
            scalars = [k for k, v in context.items() if not isinstance(v, (list, dict))]
            raise ImageError([Problem(where, line, m.start() - text.rfind("\n", 0, m.start()), "",
                                      f"unknown template variable '{name}'"
                                      f"{suggest(name, scalars)}; known: {', '.join(sorted(scalars))}")])
        return str(context[name])
    return _VAR.sub(value, text)


def render_argv(argv: list[str], context: dict, where: str) -> list[str]:
    return [render_text(a, context, where) for a in argv]


# Linux's sockaddr_un.sun_path holds 108 bytes with the terminating NUL (unix(7)): a daemon
# told to listen on a longer path fails at start with a message far from the cause
SUN_PATH_MAX = 107
_UNIX_URI = re.compile(r"unix://(\S+)")


def check_unix_sockets(text: str, where: str) -> None:
    """Refuse a rendered config naming a `unix://` socket path the kernel cannot bind."""
    for m in _UNIX_URI.finditer(text):
        path = m.group(1).strip("\"'")
        if len(path.encode()) > SUN_PATH_MAX:
            line = text.count("\n", 0, m.start()) + 1
            raise ImageError([Problem(where, line, m.start() - text.rfind("\n", 0, m.start()), "",
                                      f"socket path {path} is {len(path.encode())} bytes, more than "
                                      f"a Unix socket address holds ({SUN_PATH_MAX}): give the "
                                      "testbed a shorter name (--name) or a shorter run directory")])


def render_image(image: Image, context: dict, dest: Path,
                 source: Callable[[str], str] = str) -> list[Path]:
    """Write the image's files into `dest` (fragments first, then files); returns the paths.
    `source` maps a rendered `copy:` path to the local file to read (the context may hold
    another machine's paths: deploy/remote.py)."""
    dest.mkdir(parents=True, exist_ok=True)
    ctx = dict(context)
    for name, frag in image.spec.fragments.items():
        items = ctx.get(frag.each)
        if not isinstance(items, list):
            raise ImageError([Problem(str(image.file), 1, 1, f"fragments.{name}.each",
                                      f"'{frag.each}' is not a list of the context; lists: "
                                      + ", ".join(k for k, v in ctx.items() if isinstance(v, list)))])
        text = (image.folder / frag.template).read_text()
        where = str(image.folder / frag.template)
        ctx[name] = frag.join.join(render_text(text, {**context, **item}, where).rstrip("\n")
                                   for item in items)
    for d in image.spec.dirs:
        (dest / d).mkdir(parents=True, exist_ok=True)
    written = []
    for f in image.spec.files:
        target = dest / render_text(f.to, ctx, str(image.file))
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.template is not None:
            src = image.folder / f.template
            text = render_text(src.read_text(), ctx, str(src))
            check_unix_sockets(text, str(src))
            data = text.encode()
        else:
            data = Path(source(render_text(f.copy_from, ctx, str(image.file)))).read_bytes()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, int(f.mode, 8))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(target, int(f.mode, 8))
        written.append(target)
    return written
