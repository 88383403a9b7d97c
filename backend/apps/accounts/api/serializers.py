from rest_framework import serializers


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=["clerk", "integrator", "ml_staff", "admin"]))
    permissions = serializers.ListField(child=serializers.CharField())
    is_staff = serializers.BooleanField()
