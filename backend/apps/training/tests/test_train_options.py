"""A training job's options come from sigverify's one declaration (TrainConfig): the API
validates through it, with errors per option, and the OpenAPI schema documents every option
with its type, default and limits."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.core.schema import openapi_30
from apps.training import services
from apps.training.models import TrainingJob
from sigverify.options import CALLER_OPTIONS, WORKER_OWNED, TrainConfig

from .factories import TINY_TRAIN_OPTIONS

OPTION_NAMES = [n for n in CALLER_OPTIONS if n not in services.JOB_FIELDS]


@pytest.fixture(scope="module")
def schema():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, default=str))


def _post(client, **changes):
    body = {"datasets": ["tiny"], "epochs": 1, "loss": "triplet-semihard", "seed": 3, "options": TINY_TRAIN_OPTIONS}
    body.update(changes)
    return client.post("/api/v1/training-jobs/", body, format="json")


def test_api_models_are_the_declared_fields_and_nothing_else():
    declared = TrainConfig.model_fields
    worker = {n for n, f in declared.items() if WORKER_OWNED in f.metadata}
    assert set(OPTION_NAMES) | set(services.JOB_FIELDS) | worker == set(declared)
    assert not set(OPTION_NAMES) & worker and not set(services.JOB_FIELDS) & worker
    for model, names in ((services.TrainOptions, OPTION_NAMES), (services.JobSettings, services.JOB_FIELDS)):
        assert list(model.model_fields) == list(names)
        for name in names:
            assert model.model_fields[name].annotation == declared[name].annotation
            assert model.model_fields[name].metadata == declared[name].metadata
            assert model.model_fields[name].default == declared[name].default


def _inline_enums(prop: dict, components: dict) -> dict:
    """drf-spectacular moves each enum into a component of its own (allOf: [$ref]); put it back."""
    if "allOf" not in prop:
        return prop
    (ref,) = prop["allOf"]
    return {**{k: v for k, v in prop.items() if k != "allOf"}, **components[ref["$ref"].rsplit("/", 1)[1]]}


def test_openapi_schema_lists_every_option_with_type_default_and_limits(schema):
    components = schema["components"]["schemas"]
    declared = TrainConfig.model_json_schema()["properties"]
    for component in ("TrainOptionsRequest", "TrainOptions"):  # what a request sends, what a job shows
        documented = components[component]
        assert list(documented["properties"]) == OPTION_NAMES and documented["additionalProperties"] is False
        for name in OPTION_NAMES:
            prop = _inline_enums(documented["properties"][name], components)
            assert prop == openapi_30(declared[name]), name
            assert "default" in prop and prop.get("description") and prop.get("type"), name
        lr = documented["properties"]["lr"]
        assert lr["exclusiveMinimum"] is True and lr["minimum"] == 0 and lr["maximum"] == 1
        assert documented["properties"]["input_size"]["items"] == {"minimum": 16, "maximum": 1024, "type": "integer"}
    request = components["TrainingJobCreateRequest"]["properties"]
    assert request["options"]["allOf"] == [{"$ref": "#/components/schemas/TrainOptionsRequest"}]
    assert (
        request["epochs"]["minimum"] == 1
        and request["epochs"]["maximum"] == 1000
        and request["epochs"]["default"] == 30
    )
    assert request["seed"]["minimum"] == 0 and request["loss"]["default"] == "triplet-semihard"
    assert _inline_enums(request["loss"], components)["enum"] == ["contrastive", "triplet-semihard", "triplet-hard"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field, option",
    [
        ({"options": {"lr": "fast"}}, "options", "lr"),
        ({"options": {"lr": 0}}, "options", "lr"),
        ({"options": {"patience": True}}, "options", "patience"),
        ({"options": {"embedding_dim": 1.5}}, "options", "embedding_dim"),
        ({"options": {"input_size": [32, 8]}}, "options", "input_size"),
        ({"options": {"ema_decay": 1.0}}, "options", "ema_decay"),
        ({"options": {"device": "cuda"}}, "options", "device"),
        ({"options": {"init_from": "/etc"}}, "options", "init_from"),
        ({"options": ["lr"]}, "options", None),
        ({"epochs": 1001}, "epochs", None),
        ({"epochs": "3"}, "epochs", None),
        ({"seed": -1}, "seed", None),
    ],
)
def test_bad_types_and_out_of_range_values_are_field_errors(client_for, tiny_dataset, changes, field, option):
    response = _post(client_for("ml_staff"), **changes)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    if option:
        assert list(error["fields"][field]) == [option] and error["fields"][field][option][0]
        assert error["message"].startswith(f"{field}: {option}: ")
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db
def test_the_service_validates_through_the_same_declaration(tiny_dataset):
    request = dict(datasets=["tiny"], include_references=False, include_reviewed=False, epochs=1, loss="contrastive")
    with pytest.raises(services.InvalidTrainingRequest) as caught:
        services.training_job_validate(**request, seed=0, options={"lr": -1, "out_dir": "/tmp"})
    assert set(caught.value.fields["options"]) == {"lr", "out_dir"}
    with pytest.raises(services.InvalidTrainingRequest) as caught:
        services.training_job_validate(**{**request, "loss": "hinge"}, options={})
    assert set(caught.value.fields) == {"loss"}
    normalised = services.training_job_validate(**request, options={"lr": 1, "input_size": [32, 48]})
    assert normalised == {"lr": 1.0, "input_size": [32, 48]}  # only what was set; the rest takes the default


@pytest.mark.django_db
def test_a_job_keeps_the_options_it_was_given(client_for, tiny_dataset, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = _post(client_for("ml_staff"), options={**TINY_TRAIN_OPTIONS, "lr": 1, "margin": None})
    assert response.status_code == 202, response.json()
    stored = TrainingJob.objects.get().options
    assert stored == {**TINY_TRAIN_OPTIONS, "lr": 1.0, "margin": None} == response.json()["options"]
    config = TrainConfig(**stored, data=["d"])  # what the worker builds from them
    assert config.input_size == (32, 48) and config.lr == 1.0
