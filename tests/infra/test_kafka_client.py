"""The Kafka client module without a broker: delivery checks fail loudly, librdkafka stays quiet."""

from __future__ import annotations

import logging

import pytest

from flywheel.config import KafkaSettings
from flywheel.errors import BrokerUnreachable, ConfigError, DeliveryError
from flywheel.infra.broker import free_port
from flywheel.infra.kafka import CheckedProducer, check_broker_reachable, check_client_config, client_config


def closed_port_settings(**changes: object) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", **changes)  # type: ignore[arg-type]


def test_unacknowledged_messages_raise_and_librdkafka_noise_goes_to_debug_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    producer = CheckedProducer(closed_port_settings(), **{"message.timeout.ms": 300})
    with caplog.at_level(logging.DEBUG, logger="flywheel.kafka.librdkafka"):
        producer.send("events", b"value", b"key")
        with pytest.raises(DeliveryError, match="1 of 1 messages not acknowledged"):
            producer.flush(10)
    # librdkafka's own stderr lines look like "%3|1700000000.123|FAIL|rdkafka#producer-1| ...".
    assert not [line for line in capfd.readouterr().err.splitlines() if line.startswith("%")]
    noise = [r for r in caplog.records if r.name == "flywheel.kafka.librdkafka"]
    assert noise and all(r.levelno == logging.DEBUG for r in noise)
    # Many refused reconnects, one warning for the outage.
    outage = [r for r in caplog.records if r.levelno >= logging.WARNING and "no Kafka broker" in r.getMessage()]
    assert len(outage) == 1


def test_an_unreachable_broker_is_one_clear_error_within_the_timeout() -> None:
    settings = closed_port_settings(connect_timeout_s=1.0)
    with pytest.raises(BrokerUnreachable) as caught:
        check_broker_reachable(settings)
    message = str(caught.value)
    assert settings.bootstrap_servers in message and "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS" in message
    assert "Connection refused" in message and "\n" not in message


def test_a_member_leaving_its_group_for_a_slow_poll_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    logger = client_config(KafkaSettings())["logger"]
    with caplog.at_level(logging.DEBUG, logger="flywheel.kafka.librdkafka"):
        # The arguments confluent-kafka passes: format, facility, client name, text.
        logger.log(4, "%s [%s] %s", "MAXPOLL", "rdkafka#consumer-1", "poll interval exceeded: leaving group")
        logger.log(3, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "Connection refused")
    levels = {r.getMessage().split()[0]: r.levelno for r in caplog.records}
    assert levels == {"MAXPOLL": logging.WARNING, "FAIL": logging.DEBUG}


def test_a_client_config_librdkafka_refuses_is_one_line_naming_the_variable_never_the_value() -> None:
    typo = closed_port_settings(client_config={"sasl.mechanisms": "PLAIN", "sasl.pasword": "hunter2"})
    with pytest.raises(ConfigError) as caught:
        check_broker_reachable(typo)  # before any network wait: this never clears by retrying
    assert str(caught.value) == (
        'kafka.client_config (FLYWHEEL_KAFKA__CLIENT_CONFIG): No such configuration property: "sasl.pasword"'
    )
    bad_value = closed_port_settings(client_config={"security.protocol": "SASL_SLL-hunter2"})
    with pytest.raises(ConfigError, match=r'Invalid value for configuration property "security.protocol"') as caught:
        check_client_config(bad_value)
    assert "hunter2" not in str(caught.value)
    # Consumer-only and SASL properties are accepted (a warning from librdkafka at most).
    check_client_config(closed_port_settings(client_config={"auto.offset.reset": "earliest", "sasl.password": "x"}))
