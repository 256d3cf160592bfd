#!/bin/sh
# The platform's own broker accounts and what each may do; run against a broker started by start-broker.sh.
# Idempotent: an account or role that exists is left as it is (its password too). Meters get their accounts
# from the platform (dynamic-security provisioning), not from here.
set -u
PREFIX="${MQTT_TOPIC_PREFIX:-scanpower/v1}"
ctrl() { mosquitto_ctrl -h "${MQTT_HOST:-broker}" -p "${MQTT_PORT:-1883}" -u "${MQTT_ADMIN_USERNAME:-admin}" \
    -P "$MQTT_ADMIN_PASSWORD" dynsec "$@"; }
for _ in $(seq 30); do ctrl listClients >/dev/null 2>&1 && break; sleep 1; done

# Gateways: read every meter's uplink (also through a shared subscription), send commands, their markers.
ctrl createRole scanpower-gateway 2>/dev/null
for kind in telemetry ack event status; do
    ctrl addRoleACL scanpower-gateway subscribePattern "$PREFIX/m/+/$kind" allow
    # Mosquitto 2.0 checks a shared subscription against its whole filter, $share/<group>/ included.
    ctrl addRoleACL scanpower-gateway subscribePattern "\$share/+/$PREFIX/m/+/$kind" allow
    ctrl addRoleACL scanpower-gateway publishClientReceive "$PREFIX/m/+/$kind" allow
done
ctrl addRoleACL scanpower-gateway publishClientSend "$PREFIX/m/+/cmd" allow
ctrl addRoleACL scanpower-gateway subscribePattern "$PREFIX/gateway/#" allow
ctrl addRoleACL scanpower-gateway publishClientReceive "$PREFIX/gateway/#" allow
ctrl addRoleACL scanpower-gateway publishClientSend "$PREFIX/gateway/#" allow
# The API and the scheduler only send commands.
ctrl createRole scanpower-publisher 2>/dev/null
ctrl addRoleACL scanpower-publisher publishClientSend "$PREFIX/m/+/cmd" allow

ctrl createClient "${MQTT_GATEWAY_USERNAME:-scanpower-gateway}" -p "$MQTT_GATEWAY_PASSWORD" 2>/dev/null
ctrl addClientRole "${MQTT_GATEWAY_USERNAME:-scanpower-gateway}" scanpower-gateway
ctrl createClient "${MQTT_API_USERNAME:-scanpower-api}" -p "$MQTT_API_PASSWORD" 2>/dev/null
ctrl addClientRole "${MQTT_API_USERNAME:-scanpower-api}" scanpower-publisher
echo "platform accounts ready under $PREFIX"
