"""Leaving mutating webhooks' changes out of a server-side prediction (Argo CD's removeWebhookMutation)."""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconcile.apiserver import ListType
from reconcile.diff._webhook import without_webhook_mutations
from reconcile.errors import NotFoundError
from reconcile.model import ResourceKey

# --------------------------------------------------------------------------------------------------
# A Deployment as the server stores it: applied by ``reconcile``, its status written by the controller.

_WEB_FIELDS = {
    ".": {},
    "f:name": {},
    "f:image": {},
    "f:args": {},
    "f:resources": {},
    "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
}
_RECONCILE = {
    "manager": "reconcile",
    "operation": "Apply",
    "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"web"}': _WEB_FIELDS}},
            },
        },
    },
}
_CONTROLLER = {
    "manager": "kube-controller-manager",
    "operation": "Update",
    "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {
        "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
        "f:status": {"f:replicas": {}, "f:observedGeneration": {}},
    },
}
_SCALE = {
    "manager": "kubectl-scale",
    "operation": "Update",
    "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {"f:spec": {"f:replicas": {}}},
}


def _container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    # With the defaults the API server fills in.
    return {
        "name": name,
        "image": image,
        **extra,
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def _web(image: str = "web:1", **changes: Any) -> dict[str, Any]:
    """Our container; ``changes`` replace its fields (``None`` removes one)."""
    web = _container("web", image, args=["--port", "80"], env=[{"name": "A", "value": "1"}], resources={})
    web.update(changes)
    return {name: value for name, value in web.items() if value is not None}


def _live(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "0e898e6f-c275-476d-9b4f-5e96072cc129",
            "resourceVersion": "2836",
            "generation": 1,
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "managedFields": [copy.deepcopy(_RECONCILE), copy.deepcopy(_CONTROLLER), copy.deepcopy(_SCALE)],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "containers": list(containers) or [_web()],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {"observedGeneration": 1, "replicas": 2},
    }


def _at(obj: dict[str, Any], *path: str) -> Any:
    for name in path:
        obj = obj[name]
    return obj


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = _at(obj, "spec", "template", "spec")
    return spec


def _inject_sidecar(predicted: dict[str, Any], image: str = "proxy:1.1") -> None:
    """What an Istio-like injector does to a pod template."""
    pod_spec = _pod_spec(predicted)
    pod_spec["containers"].append(_container("istio-proxy", image, args=["proxy", "sidecar"]))
    pod_spec["volumes"] = [{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}]
    template_metadata = _at(predicted, "spec", "template", "metadata")
    template_metadata["annotations"] = {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}


# --------------------------------------------------------------------------------------------------
# Unit tests.


def test_an_injected_sidecar_volume_and_annotation_go_and_our_change_stays():
    live = _live()
    predicted = _live(_web("web:2"))  # our apply changes the image
    _inject_sidecar(predicted)

    result = without_webhook_mutations(predicted, live)

    assert result == _live(_web("web:2"))
    assert [c["name"] for c in _pod_spec(result)["containers"]] == ["web"]


def test_a_sidecar_that_is_live_already_keeps_its_live_version():
    live = _live(_web(), _container("istio-proxy", "proxy:1.0", args=["proxy", "sidecar"]))
    predicted = _live(_web("web:2"))
    _inject_sidecar(predicted, image="proxy:1.1")  # the injector upgraded it on this write

    result = without_webhook_mutations(predicted, live)

    assert _pod_spec(result)["containers"] == [
        _web("web:2"),
        _container("istio-proxy", "proxy:1.0", args=["proxy", "sidecar"]),
    ]
    assert "volumes" not in _pod_spec(result)
    assert "annotations" not in _at(result, "spec", "template", "metadata")


def test_an_env_var_injected_into_our_container_goes_and_ours_stay():
    live = _live()
    predicted = _live(_web(env=None))
    web = _pod_spec(predicted)["containers"][0]
    web["env"] = [{"name": "A", "value": "2"}, {"name": "TRACING_ENDPOINT", "value": "http://collector:4317"}]

    result = without_webhook_mutations(predicted, live)

    assert _pod_spec(result)["containers"][0]["env"] == [{"name": "A", "value": "2"}]


def test_an_injected_label_and_annotation_go_from_the_objects_metadata():
    live = _live()
    predicted = _live()
    predicted["metadata"]["labels"]["injected-by"] = "webhook"
    predicted["metadata"]["annotations"]["policy.example.com/checked"] = "true"

    result = without_webhook_mutations(predicted, live)

    assert result["metadata"]["labels"] == {"app": "web"}
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


def test_a_map_emptied_of_injected_entries_goes_when_live_lacks_it():
    live = _live()
    del live["metadata"]["annotations"]
    predicted = copy.deepcopy(live)
    predicted["metadata"]["annotations"] = {"injected": "yes"}

    result = without_webhook_mutations(predicted, live)

    assert "annotations" not in result["metadata"]
    assert result == live


def test_unowned_defaults_equal_to_live_stay():
    live = _live()
    predicted = _live(_web("web:2"))

    result = without_webhook_mutations(predicted, live)

    assert result["spec"]["revisionHistoryLimit"] == 10
    assert result["spec"]["strategy"] == live["spec"]["strategy"]
    web = _pod_spec(result)["containers"][0]
    assert (web["imagePullPolicy"], web["terminationMessagePath"]) == ("IfNotPresent", "/dev/termination-log")
    assert _at(result, "spec", "template", "metadata", "creationTimestamp") is None


def test_an_unowned_field_the_webhook_changed_takes_its_live_value():
    live = _live()
    predicted = _live()
    _pod_spec(predicted)["terminationGracePeriodSeconds"] = 120
    predicted["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 1

    result = without_webhook_mutations(predicted, live)

    assert _pod_spec(result)["terminationGracePeriodSeconds"] == 30
    assert result["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"


def test_fields_other_managers_own_take_their_live_values():
    # Our apply does not decide them: only a webhook could have changed them in the answer.
    live = _live()
    predicted = _live()
    predicted["spec"]["replicas"] = 5  # owned by kubectl-scale
    predicted["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"  # by the controller

    result = without_webhook_mutations(predicted, live)

    assert result["spec"]["replicas"] == live["spec"]["replicas"] == 2
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


def test_atomic_fields_owned_whole_stay_and_a_map_owned_only_as_a_map_owns_no_member():
    live = _live()
    predicted = _live(_web(args=["--port", "8080", "--verbose"]))
    predicted["spec"]["selector"] = {"matchLabels": {"app": "web", "track": "stable"}}  # atomic, owned whole
    _pod_spec(predicted)["containers"][0]["resources"] = {"limits": {"cpu": "500m"}}  # we applied {}

    result = without_webhook_mutations(predicted, live)

    assert _pod_spec(result)["containers"][0]["args"] == ["--port", "8080", "--verbose"]
    assert result["spec"]["selector"] == {"matchLabels": {"app": "web", "track": "stable"}}
    assert _pod_spec(result)["containers"][0]["resources"] == {}


def test_server_owned_metadata_apiversion_kind_and_status_stay_as_predicted():
    live = _live()
    predicted = _live()
    predicted["metadata"]["resourceVersion"] = "2837"
    predicted["metadata"]["generation"] = 2
    predicted["status"] = {"observedGeneration": 2, "replicas": 3, "extra": "x"}

    result = without_webhook_mutations(predicted, live)

    assert (result["metadata"]["resourceVersion"], result["metadata"]["generation"]) == ("2837", 2)
    assert result["metadata"]["managedFields"] == predicted["metadata"]["managedFields"]
    assert result["status"] == predicted["status"]
    assert (result["apiVersion"], result["kind"], result["metadata"]["name"]) == ("apps/v1", "Deployment", "web")


def test_a_new_keyed_item_keeps_its_defaulted_key_and_loses_other_defaults():
    service_fields = {
        "f:spec": {
            "f:ports": {
                'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}},
                'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}},
            },
            "f:selector": {},
        }
    }
    entry = {"manager": "reconcile", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": service_fields}
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "managedFields": [entry]},
        "spec": {
            "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
    }
    predicted = copy.deepcopy(live)
    predicted["spec"]["ports"].append({"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443})

    result = without_webhook_mutations(predicted, live)

    # targetPort of the new port is a default nobody owns and live lacks; protocol is part of the item's key.
    assert result["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
        {"name": "https", "port": 443, "protocol": "TCP"},
    ]
    assert result["spec"]["clusterIP"] == "10.96.0.10"


def test_a_finalizer_a_webhook_adds_goes_and_ours_stays():
    entry = {
        "manager": "reconcile",
        "operation": "Apply",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:finalizers": {'v:"example.com/ours"': {}}}, "f:data": {"f:a": {}}},
    }
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default", "managedFields": [entry]},
        "data": {"a": "1"},
    }
    predicted = copy.deepcopy(live)
    predicted["metadata"]["finalizers"] = ["example.com/ours", "webhook.example.com/cleanup"]

    result = without_webhook_mutations(predicted, live)

    assert result["metadata"]["finalizers"] == ["example.com/ours"]


def test_without_a_live_object_every_unowned_field_goes():
    predicted = _live(_web("web:2"))
    _inject_sidecar(predicted)

    result = without_webhook_mutations(predicted, None)

    assert result["spec"] == {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "web:2",
                        "args": ["--port", "80"],
                        "env": [{"name": "A", "value": "1"}],
                        "resources": {},
                    }
                ]
            },
        },
    }
    # Other managers' fields go too (kubectl-scale's replicas, the controller's annotation): nothing is live.
    assert "annotations" not in result["metadata"]


def test_a_custom_resource_list_is_keyed_as_its_field_set_says():
    entry = {
        "manager": "reconcile",
        "operation": "Apply",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:spec": {
                "f:routes": {'k:{"name":"main"}': {".": {}, "f:name": {}, "f:weight": {}}},
                "f:tls": {},  # an atomic map: the server's schema says so, ours does not know it
            }
        },
    }
    live = {
        "apiVersion": "example.com/v1",
        "kind": "Route",
        "metadata": {"name": "r", "namespace": "default", "managedFields": [entry]},
        "spec": {"routes": [{"name": "main", "weight": 100}], "tls": {"secret": "a"}},
    }
    predicted = copy.deepcopy(live)
    predicted["spec"]["routes"] = [
        {"name": "main", "weight": 90, "mirror": True},
        {"name": "canary", "weight": 10},
    ]
    predicted["spec"]["tls"] = {"secret": "b", "mode": "strict"}

    result = without_webhook_mutations(predicted, live)

    assert result["spec"] == {"routes": [{"name": "main", "weight": 90}], "tls": {"secret": "b", "mode": "strict"}}

    # With the CRD's schema, a map owned only as a map owns none of its members.
    overrides = {("spec", "routes"): ListType.keyed("name")}
    granular = without_webhook_mutations(predicted, live, overrides=overrides)
    assert granular["spec"]["tls"] == {"secret": "a"}


def test_without_managed_fields_the_prediction_comes_back_unchanged():
    live = _live()
    predicted = _live(_web("web:2"))
    _inject_sidecar(predicted)
    del predicted["metadata"]["managedFields"]

    result = without_webhook_mutations(predicted, live)

    assert result == predicted
    _pod_spec(result)["containers"].clear()
    assert len(_pod_spec(predicted)["containers"]) == 2  # a copy


def test_inputs_are_never_changed():
    live = _live(_web(), _container("istio-proxy", "proxy:1.0"))
    predicted = _live(_web("web:2", env=None))
    _inject_sidecar(predicted)
    live_before, predicted_before = copy.deepcopy(live), copy.deepcopy(predicted)

    result = without_webhook_mutations(predicted, live)
    _pod_spec(result)["containers"][1]["image"] = "changed"
    result["metadata"]["labels"]["changed"] = "yes"

    assert live == live_before
    assert predicted == predicted_before


def test_the_conformance_service_loses_the_webhook_label(conformance_diff: Path):
    fixtures = conformance_diff / "fixtures"
    predicted = json.loads((fixtures / "ssd-service-predicted-live.json").read_text())
    live = {**predicted, "metadata": {**predicted["metadata"], "labels": {"app.kubernetes.io/instance": "httpbin"}}}

    assert predicted["metadata"]["labels"] == {"event": "FROM-MUTATION-WEBHOOK"}
    result = without_webhook_mutations(predicted, live, "argocd-controller")
    # The webhook's label goes; the live label the apply dropped is not put back, so its removal still shows.
    assert "labels" not in result["metadata"]
    assert result["spec"] == predicted["spec"]


def test_a_webhook_label_goes_and_a_live_label_the_answer_lacks_is_not_put_back():
    # A Service answer whose only label a webhook added: the applying manager's entry owns no label.
    owned = {
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
            "f:selector": {},
        }
    }
    entry = {"manager": "argocd-controller", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": owned}
    predicted = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "shop",
            "namespace": "shop",
            "labels": {"policy.example.com/audited": "true"},
            "managedFields": [entry],
        },
        "spec": {
            "clusterIP": "10.43.0.15",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "shop"},
            "type": "ClusterIP",
        },
    }
    live = {**predicted, "metadata": {**predicted["metadata"], "labels": {"app.kubernetes.io/instance": "shop"}}}

    result = without_webhook_mutations(predicted, live, "argocd-controller")

    # The webhook's label goes; the live label the apply dropped is not put back, so its removal still shows.
    assert "labels" not in result["metadata"]
    assert result["spec"] == predicted["spec"]
    # A label the manager's apply owns stays beside it.
    owned["f:metadata"] = {"f:labels": {"f:app.kubernetes.io/instance": {}}}
    predicted["metadata"]["labels"]["app.kubernetes.io/instance"] = "shop"
    kept = without_webhook_mutations(predicted, live, "argocd-controller")
    assert kept["metadata"]["labels"] == {"app.kubernetes.io/instance": "shop"}


# --------------------------------------------------------------------------------------------------
# Against a real API server with a real mutating webhook.

_WEBHOOK_WAIT = 30.0  # seconds for the API server to start or stop calling a new webhook


def _serving_certificate(folder: Path) -> tuple[bytes, Path, Path]:
    """A CA (PEM) and a certificate and key it signed for IP 127.0.0.1 (files in ``folder``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, issuer: str, public: Any, signer: Any, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("webhook-test-ca", "webhook-test-ca", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("127.0.0.1", "webhook-test-ca", key.public_key(), ca_key, ca=False)
    cert_file, key_file = folder / "tls.crt", folder / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_cert.public_bytes(serialization.Encoding.PEM), cert_file, key_file


def _mutation(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The webhook's JSONPatch: an ``injected: "yes"`` annotation and an ``injected`` data key."""
    patch: list[dict[str, Any]] = []
    if "annotations" in obj.get("metadata", {}):
        patch.append({"op": "add", "path": "/metadata/annotations/injected", "value": "yes"})
    else:
        patch.append({"op": "add", "path": "/metadata/annotations", "value": {"injected": "yes"}})
    if "data" in obj:
        patch.append({"op": "add", "path": "/data/injected", "value": "by-webhook"})
    else:
        patch.append({"op": "add", "path": "/data", "value": {"injected": "by-webhook"}})
    return patch


class _Mutator(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        patch = base64.b64encode(json.dumps(_mutation(request["object"])).encode()).decode()
        answer = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": request["uid"], "allowed": True, "patchType": "JSONPatch", "patch": patch},
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test output is for failures


@contextlib.contextmanager
def _webhook_server(folder: Path) -> Iterator[tuple[int, bytes]]:
    """A mutating webhook on https://127.0.0.1:<port>/mutate; yields the port and its CA (PEM)."""
    ca_pem, cert_file, key_file = _serving_certificate(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mutator)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], ca_pem
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + _WEBHOOK_WAIT
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {_WEBHOOK_WAIT:g}s")
        time.sleep(0.2)


@pytest.mark.integration
def test_a_real_webhooks_additions_leave_the_prediction(kube_cluster: Any, kube_namespace: str, tmp_path: Path):
    label = {"webhook-test": kube_namespace}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": kube_namespace, "labels": label, "annotations": {"ours": "1"}},
        "data": {"a": "1"},
    }
    key = ResourceKey("", "ConfigMap", kube_namespace, "cfg")
    kube_cluster.apply(config, field_manager="reconcile")  # live before any webhook
    changed = {**config, "data": {"a": "2", "b": "3"}}

    def dry_run() -> dict[str, Any]:
        answer: dict[str, Any] = kube_cluster.apply(changed, field_manager="reconcile", force=True, dry_run=True)
        return answer

    hook_key = ResourceKey("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "", kube_namespace)
    with _webhook_server(tmp_path) as (port, ca_pem):
        hook = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": kube_namespace},
            "webhooks": [
                {
                    "name": "inject.reconcile.test",
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{port}/mutate",
                        "caBundle": base64.b64encode(ca_pem).decode(),
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["configmaps"],
                            "scope": "Namespaced",
                        }
                    ],
                    "objectSelector": {"matchLabels": label},  # this test's objects only: the server is shared
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 5,
                }
            ],
        }
        kube_cluster.create(hook)
        try:

            def mutated() -> dict[str, Any] | None:
                found = dry_run()
                return found if "injected" in found["metadata"].get("annotations", {}) else None

            answer = _until(mutated, "the webhook never mutated the dry run")
            live = kube_cluster.get(key)
        finally:
            with contextlib.suppress(NotFoundError):
                kube_cluster.delete(hook_key)
            _until(lambda: "injected" not in dry_run()["metadata"]["annotations"], "the webhook still mutates")

    assert live is not None
    # The server's answer holds the webhook's changes, unowned, beside ours.
    assert answer["metadata"]["annotations"] == {"ours": "1", "injected": "yes"}
    assert answer["data"] == {"a": "2", "b": "3", "injected": "by-webhook"}

    result = without_webhook_mutations(answer, live)

    assert result["metadata"]["annotations"] == {"ours": "1"}
    assert result["metadata"]["labels"] == label
    assert result["data"] == {"a": "2", "b": "3"}
    assert result["metadata"]["resourceVersion"] == answer["metadata"]["resourceVersion"]
    stripped = {name: value for name, value in answer.items() if name != "data"}
    stripped["metadata"] = {**answer["metadata"], "annotations": {"ours": "1"}}
    assert result == {**stripped, "data": {"a": "2", "b": "3"}}
