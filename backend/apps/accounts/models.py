# Roles are Django groups (see roles.py); users are django.contrib.auth users.
