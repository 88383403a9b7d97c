"""The commands README.md shows exist and accept the arguments shown: make targets, management
commands, `sigverify` subcommands, curl URLs of the API and docker compose services."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def shell_lines() -> list[str]:
    """Commands from the README's sh blocks (continuations joined) and from inline code spans."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"`((?:make|sigverify|python manage\.py|docker compose) [^`]+)`", README)
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        # `cd backend && python manage.py ...`, `... | grep x`: each part of a chain is a command
        part = []
        for w in words + ["&&"]:
            if w in ("&&", "|", ";"):
                if part:
                    commands.append(part)
                part = []
            else:
                part.append(w)
    return commands


COMMANDS = shell_lines()


def of_kind(kind: str) -> list[list[str]]:
    found = []
    for words in COMMANDS:
        words = [w for w in words if not re.match(r"^[A-Z_]+=", w) or words.index(w) > 0]  # VAR=x prefixes
        if kind == "manage.py" and "manage.py" in words:
            found.append(words[words.index("manage.py") + 1 :])
        elif kind == "docker" and words[:2] == ["docker", "compose"]:
            found.append(words[2:])
        elif words and words[0] == kind:
            found.append(words[1:])
    return found


def test_readme_shows_the_two_commands():
    assert ["make", "run"] in COMMANDS and ["make", "test"] in COMMANDS


def test_make_targets_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), flags=re.MULTILINE))
    shown = of_kind("make")
    assert shown
    for args in shown:
        target = next(a for a in args if not a.startswith("-") and "=" not in a)
        assert target in targets, f"README shows `make {target}`, which the Makefile lacks"


def test_sigverify_commands_parse():
    from sigverify.cli import build_parser

    shown = of_kind("sigverify")
    subcommands = {args[0] for args in shown}
    assert {"import-data", "evaluate", "train", "publish", "make-pairs"} <= subcommands
    for args in shown:
        try:
            build_parser().parse_args(args)
        except SystemExit as exit:  # argparse exits 2 on an unknown subcommand or option, 0 after --help
            assert exit.code == 0 and "--help" in args, (
                f"README shows `sigverify {' '.join(args)}`, which does not parse"
            )


def test_management_commands_exist_and_parse():
    from django.core.management import get_commands, load_command_class

    commands = get_commands()
    shown = of_kind("manage.py")
    assert any(args[0] == "enroll_from_dataset" for args in shown)
    for args in shown:
        name = args[0]
        assert name in commands, f"README shows `manage.py {name}`, which does not exist"
        load_command_class(commands[name], name).create_parser("manage.py", name).parse_args(args[1:])


def test_curl_examples_name_real_api_routes():
    from django.urls import resolve

    paths = []
    for args in of_kind("curl"):
        for word in args:
            if word.startswith("$API/"):
                paths.append("/api/v1/" + word[len("$API/") :].split("?")[0])
    assert len(paths) >= 6
    for path in paths:
        resolve(path)  # raises Resolver404 for a route the API does not have
    for route in ("auth/token/", "signers/", "references/", "verifications/"):
        assert any(route in p for p in paths), f"no curl example for {route}"


def test_docker_compose_commands_name_real_services():
    services = set(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])
    shown = of_kind("docker")
    assert shown
    for args in shown:
        if args[0] in ("up", "logs"):
            named = [a for a in args[1:] if not a.startswith("-")]
            assert set(named) <= services, f"unknown services in `docker compose {' '.join(args)}`"
        elif args[0] == "run":
            service = next(a for a in args[1:] if not a.startswith("-") and ":" not in a and "/" not in a)
            assert service in services


def test_relative_links_point_at_files():
    shipped = (REPO / "trained_model_parameters" / "model.safetensors").exists()
    links = [link for link in re.findall(r"\]\(([^)#]+)\)", README) if "://" not in link]
    assert links
    for link in links:
        if link.startswith("trained_model_parameters/") and not shipped:
            continue  # the card is published with the weights
        assert (REPO / link).exists(), f"README links to a missing file: {link}"
