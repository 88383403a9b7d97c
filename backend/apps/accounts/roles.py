"""The product's roles: Django groups and the permissions each one holds.

Views check permissions, never group names. A permission listed here for an app that is
not installed (yet) is skipped; it is granted once that app is migrated.
"""

CLERK = "clerk"
INTEGRATOR = "integrator"
ML_STAFF = "ml_staff"
ADMIN = "admin"

ROLE_NAMES = (CLERK, INTEGRATOR, ML_STAFF, ADMIN)

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Verifies cheques, looks up signers, accounts and their references, browses history, reviews.
    CLERK: [
        "signers.view_signer",
        "signers.view_referencesignature",
        "verifications.add_verification",
        "verifications.view_verification",
        "verifications.add_review",
        "verifications.view_review",
        "mandates.view_bankaccount",
        "mandates.view_signatory",
        "mandates.view_mandate",
        "mandates.add_chequedecision",
        "mandates.view_chequedecision",
        "mandates.add_chequereview",
        "mandates.view_chequereview",
        "clearing.view_clearingfile",
        "clearing.add_clearingfile",
    ],
    # An API client of the bank's systems: enrolls signers (and settles flagged references), keeps accounts
    # and mandates, verifies.
    INTEGRATOR: [
        "signers.view_signer",
        "signers.add_signer",
        "signers.change_signer",
        "signers.view_referencesignature",
        "signers.add_referencesignature",
        "signers.change_referencesignature",  # accept or reject a flagged reference
        "signers.delete_referencesignature",
        "verifications.add_verification",
        "verifications.view_verification",
        "mandates.view_bankaccount",
        "mandates.add_bankaccount",
        "mandates.change_bankaccount",
        "mandates.view_signatory",
        "mandates.add_signatory",
        "mandates.delete_signatory",
        "mandates.view_mandate",
        "mandates.add_mandate",
        "mandates.add_chequedecision",
        "mandates.view_chequedecision",
        "clearing.view_clearingfile",
        "clearing.add_clearingfile",
    ],
    # Model versions, their operating policy and promotion, and training jobs.
    ML_STAFF: [
        "modelregistry.view_modelversion",
        "modelregistry.add_modelversion",
        "modelregistry.change_modelversion",
        "modelregistry.change_operating_policy",
        "modelregistry.view_policychange",
        "training.view_trainingjob",
        "training.add_trainingjob",
        "training.change_trainingjob",
        "modelregistry.view_promotion",
        "modelregistry.add_promotion",
    ],
    # Everything: the group receives every permission that exists (see services.sync_roles).
    ADMIN: [],
}
