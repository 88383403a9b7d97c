"""Bank accounts: who may sign (signatories with their reference thumbnails, groups, limits and
validity) and the mandate, with an editor that shows the rule in words before it is saved."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import mandate_words
import ui_common as ui
from api_client import ApiError

THUMBNAILS = 4

client = ui.api()
st.title("Accounts")

can_create = ui.can("mandates.add_bankaccount")
can_change = ui.can("mandates.change_bankaccount")
can_add_signatory = ui.can("mandates.add_signatory")
can_remove_signatory = ui.can("mandates.delete_signatory")
can_set_mandate = ui.can("mandates.add_mandate")

left, right = st.columns([2, 3], gap="large")
with left:
    query = st.text_input("Find an account by number or name", key="accounts_query", placeholder="e.g. 12345678")
    accounts = ui.guarded(lambda: client.list_accounts(search=query.strip() or None), "Cannot list accounts")
    by_number = {row.number: row for row in accounts}
    chosen = st.selectbox(
        f"Account ({len(accounts)} found)",
        list(by_number),
        index=None,
        key="accounts_chosen",
        format_func=lambda n: f"{n} · {by_number[n].name}",
        placeholder="Choose an account",
    )
with right:
    if can_create:
        with st.expander("New account", expanded=not accounts):
            with st.form("new_account", clear_on_submit=True):
                number = st.text_input("Account number")
                name = st.text_input("Account name")
                if st.form_submit_button("Create account", type="primary"):
                    created = ui.guarded(
                        lambda: client.create_account(number.strip(), name.strip()), "Not created", stop=False
                    )
                    if created is not None:
                        st.session_state["accounts_chosen"] = created.number
                        st.toast(f"Account {created.number} created.")
                        st.rerun()

if not chosen:
    st.info("Choose an account to see its signatories and mandate.", icon=":material/account_balance:")
    st.stop()

account = ui.guarded(lambda: client.get_account(chosen), "Cannot load the account")
st.divider()
st.subheader(f"{account.name} · {account.number}")
flags = [f"status **{account.status}**"]
if account.always_refer:
    flags.append("**always refer**: every cheque goes to a clerk")
st.markdown(" · ".join(flags))
if account.instruction:
    st.info(account.instruction, icon=":material/sticky_note_2:")
if can_change:
    with st.expander("Change status, flag or instruction"):
        with st.form(f"account_{account.number}"):
            statuses = ["active", "blocked", "closed"]
            status = st.selectbox("Status", statuses, index=statuses.index(account.status))
            always_refer = st.checkbox("Always refer (every cheque to a clerk)", value=account.always_refer)
            instruction = st.text_area("Instruction shown to clerks", value=account.instruction, max_chars=2000)
            if st.form_submit_button("Save"):
                saved = ui.guarded(
                    lambda: client.update_account(
                        account.number, status=status, always_refer=always_refer, instruction=instruction
                    ),
                    "Not saved",
                    stop=False,
                )
                if saved is not None:
                    st.toast("Account saved.")
                    st.rerun()

# -- signatories ----------------------------------------------------------------------------

st.markdown(f"### Signatories ({len(account.signatories)})")
if not account.signatories:
    st.caption("No signatory yet: every cheque on this account is referred.")
for signatory in account.signatories:
    with st.container(border=True):
        info, pictures = st.columns([2, 3])
        with info:
            st.markdown(f"**{signatory.signer_name}** · `{signatory.signer}` · group **{signatory.group}**")
            facts = [f"limit {signatory.limit}" if signatory.limit else "no limit"]
            if signatory.valid_from or signatory.valid_until:
                facts.append(f"valid {signatory.valid_from or '…'} to {signatory.valid_until or '…'}")
            if signatory.signer_status != "active":
                facts.append(f"signer {signatory.signer_status}")
            st.caption(" · ".join(facts))
            if can_remove_signatory and st.button(
                "Remove", key=f"remove_{signatory.signer}", icon=":material/person_remove:"
            ):
                if ui.guarded(
                    lambda s=signatory: client.remove_signatory(account.number, s.signer) or True,
                    "Not removed",
                    stop=False,
                ):
                    st.toast(f"{signatory.signer_name} removed.")
                    st.rerun()
        with pictures:
            references = ui.guarded(lambda s=signatory: client.list_references(s.signer), stop=False) or []
            if not references:
                st.warning("No reference signatures: this signatory cannot be recognised.", icon=":material/warning:")
            columns = st.columns(THUMBNAILS)
            for index, reference in enumerate(references[:THUMBNAILS]):
                data = ui.session_bytes(
                    ("r", signatory.signer, reference.id, False),
                    lambda s=signatory, r=reference: client.reference_image(s.signer, r.id),
                )
                with columns[index]:
                    ui.show_image(data, f"#{reference.id}")

if can_add_signatory:
    with st.expander("Add a signatory"):
        with st.form(f"add_signatory_{account.number}", clear_on_submit=True):
            cols = st.columns(3)
            signer = cols[0].text_input("Signer (external id)")
            group = cols[1].text_input("Group or panel", value="A")
            limit = cols[2].text_input("Amount limit (empty: none)")
            dates = st.columns(2)
            valid_from = dates[0].date_input("Valid from", value=None)
            valid_until = dates[1].date_input("Valid until", value=None)
            if st.form_submit_button("Add signatory", type="primary"):
                added = ui.guarded(
                    lambda: client.add_signatory(
                        account.number,
                        signer.strip(),
                        group.strip(),
                        limit=limit.strip() or None,
                        valid_from=valid_from.isoformat() if isinstance(valid_from, dt.date) else None,
                        valid_until=valid_until.isoformat() if isinstance(valid_until, dt.date) else None,
                    ),
                    "Not added",
                    stop=False,
                )
                if added is not None:
                    st.toast(f"{added.signer_name} added to group {added.group}.")
                    st.rerun()

# -- mandate --------------------------------------------------------------------------------

st.markdown("### Mandate")
mandate = account.mandate
if mandate:
    for line in mandate.words:
        st.markdown(f"- {line}")
    st.caption(f"Set by {mandate.changed_by} at {ui.when(mandate.changed_at)}: {mandate.reason}")
else:
    st.caption("No mandate yet: every cheque on this account is referred.")

if can_set_mandate:
    with st.expander("Edit the mandate", expanded=mandate is None):
        st.caption(
            "One line per amount band, lowest first; leave the last band's amount empty for every larger amount. "
            "A rule is requirements joined by `and`, alternatives joined by `or`: `2 of A`, `1 of A and 1 of B or 3 of *` "
            "(`*`: any signatory)."
        )
        current = mandate_words.rows_from_bands(mandate.bands) if mandate else [("", "1 of A")]
        count = st.number_input("Bands", 1, 8, len(current), key=f"bands_{account.number}")
        rows = []
        for index in range(int(count)):
            up_to_default, rule_default = current[index] if index < len(current) else ("", "1 of A")
            cols = st.columns([1, 3])
            up_to = cols[0].text_input("Up to (amount)", up_to_default, key=f"upto_{account.number}_{index}")
            rule = cols[1].text_input("Who must sign", rule_default, key=f"rule_{account.number}_{index}")
            rows.append((up_to, rule))
        try:
            bands = mandate_words.bands_from_rows(rows)
        except ValueError as problem:
            bands = None
            st.warning(str(problem), icon=":material/edit_note:")
        else:  # the API's words, checked against the account's groups as saving will check them
            words = ui.guarded(lambda: client.mandate_words(account.number, bands), "Not a mandate", stop=False)
            if words is not None:
                st.markdown("**In words:**")
                for line in words.words:
                    st.markdown(f"- {line}")
        reason = st.text_input(
            "Reason for the change (kept in the audit trail)", key=f"mandate_reason_{account.number}"
        )
        if st.button("Save the mandate", type="primary", disabled=bands is None, key=f"save_mandate_{account.number}"):
            try:
                client.set_mandate(account.number, bands, reason.strip())
            except ApiError as error:
                ui.show_error(error, "Mandate not saved")
            else:
                st.toast("Mandate saved.")
                st.rerun()
