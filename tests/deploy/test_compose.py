"""compose.yaml as Debian's docker-compose reads it: valid, and the stack the README promises."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / "deploy" / "compose.env.example"


def compose_config(*env_file: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is missing: `make test` installs it (.ci/deploy-deps), or apt-get install "
                    "docker-compose")
    options = [arg for path in env_file for arg in ("--env-file", str(path))]
    return subprocess.run([tool, *options, "-f", str(REPO / "compose.yaml"), "config"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def stack() -> dict:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_the_stack_has_every_part_and_two_gateways_share_the_load(stack):
    assert {"db", "broker", "broker-accounts", "migrate", "api", "gateway-1", "gateway-2", "scheduler",
            "sim"} <= set(stack)
    gateways = [stack["gateway-1"], stack["gateway-2"]]
    assert all(g["command"] == ["scanpower", "gateway", "--no-scheduler"] for g in gateways)
    assert {g["environment"]["GATEWAY_SHARE_GROUP"] for g in gateways} == {"gateways"}
    assert len({g["environment"]["GATEWAY_CLIENT_ID"] for g in gateways}) == 2
    assert stack["scheduler"]["command"] == ["scanpower", "scheduler"]
    assert stack["sim"]["profiles"] == ["demo"]
    assert stack["api"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] and stack["api"]["environment"]["API_WORKERS"]


def test_every_process_of_the_platform_runs_in_production_mode_with_its_own_broker_account(stack):
    platform = [s for name, s in stack.items() if s.get("image") == "scanpower:latest"]
    assert len(platform) == 6  # migrate, api, two gateways, scheduler, sim
    assert all(s["environment"]["ENVIRONMENT"] == "production" for s in platform)
    assert stack["gateway-1"]["environment"]["MQTT_URL"].startswith("mqtt://scanpower-gateway:")
    assert stack["api"]["environment"]["MQTT_URL"].startswith("mqtt://scanpower-api:")


def test_the_broker_loads_the_dynamic_security_plugin(stack):
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    assert "plugin /usr/lib/mosquitto_dynamic_security.so" in conf and "allow_anonymous false" in conf
    assert "plugin_opt_config_file /mosquitto/data/dynamic-security.json" in conf
    assert any(v.endswith("/mosquitto/config/mosquitto.conf:ro") for v in stack["broker"]["volumes"])


def test_a_missing_secret_stops_compose_before_anything_starts(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty)  # every required secret is missing
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


def test_the_api_and_the_scheduler_manage_meters_broker_accounts_live_and_the_gateways_cannot(stack):
    for name in ("api", "scheduler"):
        env = stack[name]["environment"]
        assert env["BROKER_ACCOUNTS"] == "dynsec" and env["MQTT_ADMIN_USERNAME"] == "admin"
        assert env["MQTT_ADMIN_PASSWORD"] == stack["broker"]["environment"]["MQTT_ADMIN_PASSWORD"]
    for name in ("gateway-1", "gateway-2", "migrate", "sim"):
        assert "MQTT_ADMIN_PASSWORD" not in stack[name]["environment"]
