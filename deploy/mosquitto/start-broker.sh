#!/bin/sh
# The broker's entry point: make the dynamic-security file once (with the admin account), then run Mosquitto.
set -eu
CONFIG_FILE="${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}"
if [ ! -f "$CONFIG_FILE" ]; then
    mosquitto_ctrl dynsec init "$CONFIG_FILE" "${MQTT_ADMIN_USERNAME:-admin}" "$MQTT_ADMIN_PASSWORD"
fi
exec mosquitto -c "${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}"
