# Users and groups use Django's own admin (django.contrib.auth registers them); roles are groups.
from rest_framework.authtoken.admin import TokenAdmin

TokenAdmin.raw_id_fields = ["user"]
