"""Offline checks of deploy/Dockerfile (no Docker engine runs on the development machine, so
the image is not built here): the console is built inside the image exactly as
scripts/build_console.sh builds it, and lands where the gateway serves it from."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def stages() -> dict[str, list[str]]:
    """Each build stage's instructions (continuation lines joined), by its name (the last,
    unnamed one as "final")."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            words = line.split()
            current = words[3] if len(words) > 3 and words[2].upper() == "AS" else "final"
            found[current] = [line]
        elif current is not None:
            found[current].append(line)
    return found


def test_the_console_is_built_from_the_lockfile_in_a_stage_of_its_own():
    console = stages()["console"]
    assert console[0].startswith("FROM node:")
    copies = [i for i in console if i.startswith("COPY ")]
    assert copies[0] == "COPY console/package.json console/package-lock.json ./"
    assert (ROOT / "console" / "package-lock.json").exists()
    install = console.index(next(i for i in console if "npm ci" in i))
    assert console.index(copies[0]) < install < console.index("COPY console/ ./")
    assert "build" in json.loads((ROOT / "console" / "package.json").read_text())["scripts"]
    # the same commands as the machine's own build
    script = (ROOT / "scripts" / "build_console.sh").read_text()
    for command in ("npm ci --no-audit --no-fund --loglevel=error",
                    "npm run --silent build -- --logLevel warn"):
        assert command in script and any(i == f"RUN {command}" for i in console), command


def test_the_final_image_serves_the_built_console_from_the_gateways_default_directory():
    final = stages()["final"]
    assert "WORKDIR /app" in final
    copy = "COPY --from=console /console/dist console/dist"
    assert copy in final and final.index("COPY . .") < final.index(copy)
    # the gateway's default CONSOLE_DIR is the checkout's console/dist (/app/console/dist)
    source = (ROOT / "gateway" / "console.py").read_text()
    assert 'ROOT / "console" / "dist"' in source
    ignored = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    # a local build's node_modules and dist never reach the image
    assert "console/node_modules" in ignored and "console/dist" in ignored
