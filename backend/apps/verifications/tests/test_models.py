import pytest

from apps.verifications.models import ImmutableRecordError, Verification

pytestmark = pytest.mark.django_db


def test_verification_cannot_be_changed(verification):
    original = (verification.score, verification.decision)
    verification.score = 1.0
    with pytest.raises(ImmutableRecordError):
        verification.save()
    with pytest.raises(ImmutableRecordError):
        Verification.objects.filter(pk=verification.pk).update(decision="genuine")
    with pytest.raises(ImmutableRecordError):
        verification.delete()
    with pytest.raises(ImmutableRecordError):
        Verification.objects.all().delete()
    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.score, stored.decision) == original
