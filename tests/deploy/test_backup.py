"""Backup and restore as docs/deploy.md shows them, on PostgreSQL.

The guide's backup and restore blocks are run line by line with this
machine's paths in place of the VM's (its systemctl and createdb lines are
the VM's own and are left out; restore.sh creates the database itself).
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

from payments.tests.factories import order_to_pay
from shop.models import ProductImage
from shop.order_access import order_link
from shop.tests.factories import make_product

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="backup and restore use pg_dump/pg_restore: run with DATABASE_URL=postgres://… "
        "(.ci/run's PostgreSQL pass does)",
    ),
]


def guide_block(name: str) -> list[str]:
    """Return the commands of the guide's block marked ``<!-- check: name -->``."""
    match = re.search(
        rf"<!-- check: {name} -->\n```sh\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL
    )
    assert match, f"docs/deploy.md has no sh block marked check: {name}"
    return [line for line in match[1].splitlines() if line.strip()]


def run_guide_lines(lines: list[str], paths: dict[str, str], env: dict[str, str]) -> str:
    """Run the guide's ``scripts/`` lines as the shop user would, with *paths* swapped in."""
    output = ""
    ran = 0
    for line in lines:
        words = shlex.split(line)
        if words[:3] == ["sudo", "-u", "shop"]:
            words = words[3:]
        if words[0] == "cd" or words[0] == "sudo":
            continue  # cd /srv/shop is the checkout (ROOT); systemctl, createdb: the VM's
        words = [paths.get(word, word) for word in words]
        assert words[0].startswith("scripts/"), line
        done = subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        output += done.stdout
        ran += 1
    assert ran == 1, lines
    return output


def database_url(name: str) -> str:
    conf = connection.settings_dict
    auth = quote(conf["USER"] or "postgres")
    if conf["PASSWORD"]:
        auth += ":" + quote(conf["PASSWORD"])
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def restored_database():
    name = f"restored_{uuid.uuid4().hex[:12]}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def serve(tmp_path):
    """Start gunicorn on a free port with extra environment; stop it afterwards."""
    started = []
    log_path = tmp_path / "gunicorn.log"

    def start(env: dict[str, str]) -> str:
        port = free_port()
        log = log_path.open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "storefront.wsgi",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"gunicorn stopped: {log_path.read_text()}")
            try:
                requests.get(f"{base}/healthz", timeout=5)
                return base
            except requests.RequestException:
                time.sleep(0.2)
        pytest.fail(f"gunicorn did not answer within 30 s: {log_path.read_text()}")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def test_an_order_and_its_picture_survive_backup_and_restore(tmp_path, restored_database, serve):
    product = make_product(name="Tecno Spark 20")
    picture = ProductImage.objects.get(product=product)
    picture_bytes = Path(settings.MEDIA_ROOT, picture.image.name).read_bytes()
    order = order_to_pay(price="23999")

    # The shop's environment file, with lines a shell would choke on.
    env_file = tmp_path / "shop.env"
    backups = tmp_path / "backups"
    backups.mkdir()
    env_file.write_text(
        "# The shop's settings\n"
        "SITE_NAME=Duka Tech\n"
        "DEFAULT_FROM_EMAIL=Duka Tech <orders@example.co.ke>\n"
        f"DATABASE_URL={database_url(connection.settings_dict['NAME'])}\n"
        f"MEDIA_ROOT={settings.MEDIA_ROOT}\n"
    )
    env = {**os.environ, "PATH": os.environ["PATH"]}
    for name in ("DATABASE_URL", "MEDIA_ROOT", "MEDIA_STORAGE"):
        env.pop(name, None)
    paths = {"/etc/shop/shop.env": str(env_file), "/var/backups/shop": str(backups)}
    written = run_guide_lines(guide_block("backup"), paths, env).strip().splitlines()[-1]
    assert Path(written).parent == backups
    assert {p.name for p in Path(written).iterdir()} == {"db.dump", "media.tar.gz"}

    # Restore into a database and media folder that don't exist yet.
    restored_media = tmp_path / "restored-media"
    env_file.write_text(
        f"DATABASE_URL={database_url(restored_database)}\nMEDIA_ROOT={restored_media}\n"
    )
    paths["/var/backups/shop/shop-20260101T020000Z"] = written
    run_guide_lines(guide_block("restore"), paths, env)
    assert (restored_media / picture.image.name).read_bytes() == picture_bytes

    # The shop, started on the restored copy as in production (static files
    # collected by the build), serves the order to its emailed link and the picture.
    static_root = tmp_path / "staticfiles"
    built = subprocess.run(
        ["scripts/build.sh", "--skip-install", "css", "static"],
        cwd=ROOT,
        env={**env, "PYTHON": sys.executable, "STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    base = serve(
        {
            **env,
            "STATIC_ROOT": str(static_root),
            "DATABASE_URL": database_url(restored_database),
            "MEDIA_ROOT": str(restored_media),
            "SERVE_MEDIA": "1",
        }
    )
    page = requests.get(base + order_link(order), timeout=10)
    assert page.status_code == 200, (tmp_path / "gunicorn.log").read_text()[-3000:]
    assert order.number in page.text and "23,999" in page.text
    served = requests.get(f"{base}/media/{picture.image.name}", timeout=10)
    assert served.status_code == 200 and served.content == picture_bytes
    # A restore never lands on a database that has tables: the shop's data is safe.
    again = subprocess.run(
        ["scripts/restore.sh", "--env-file", str(env_file), written],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and "already has" in again.stderr


def test_a_bucket_is_backed_up_and_restored_with_aws_s3_sync(tmp_path, restored_database):
    """MEDIA_STORAGE=s3: the scripts copy the bucket with the AWS CLI (moto's S3 here)."""
    if not shutil.which("aws"):
        pytest.skip("the AWS CLI (aws) is not installed: the bucket branch can't run")
    from tests.support.s3 import (
        ACCESS_KEY_ID,
        REGION,
        SECRET_ACCESS_KEY,
        create_bucket,
        s3_client,
        s3_server,
    )

    with s3_server() as endpoint:
        create_bucket(endpoint, "shop-media")
        create_bucket(endpoint, "shop-media-restored")
        client = s3_client(endpoint)
        client.put_object(Bucket="shop-media", Key="media/products/p.jpg", Body=b"\xff\xd8jpeg")
        client.put_object(Bucket="shop-media", Key="media/cache/ab/cd/t.webp", Body=b"RIFFwebp")
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": "shop-media",
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }
        backed_up = subprocess.run(
            ["scripts/backup.sh", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert backed_up.returncode == 0, backed_up.stderr
        folder = Path(backed_up.stdout.strip().splitlines()[-1])
        assert (folder / "media/media/products/p.jpg").read_bytes() == b"\xff\xd8jpeg"

        env.update(
            DATABASE_URL=database_url(restored_database),
            AWS_STORAGE_BUCKET_NAME="shop-media-restored",
        )
        restored = subprocess.run(
            ["scripts/restore.sh", str(folder)], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        listed = client.list_objects_v2(Bucket="shop-media-restored")["Contents"]
        assert sorted(o["Key"] for o in listed) == [
            "media/cache/ab/cd/t.webp",
            "media/products/p.jpg",
        ]
        body = client.get_object(Bucket="shop-media-restored", Key="media/products/p.jpg")["Body"]
        assert body.read() == b"\xff\xd8jpeg"
