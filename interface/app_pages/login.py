"""Log in: username and password are exchanged for an API token kept in this session only."""

import streamlit as st

import ui_common as ui
from api_client import ApiClient, ApiError, AuthError, ValidationError

st.title("SigVerify")
st.caption("Cheque signature verification")

with st.form("login"):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Log in", type="primary")

if submitted:
    if not username or not password:
        st.warning("Please enter your username and password.")
        st.stop()
    client = ApiClient()
    try:
        token = client.login(username.strip(), password)
        me = client.me()
    except (AuthError, ValidationError) as error:
        st.error(f"Login refused: {error.message}", icon=":material/lock:")
        st.stop()
    except ApiError as error:
        ui.show_error(error, "Cannot log in")
        st.stop()
    st.session_state["token"] = token
    st.session_state["me"] = me
    st.rerun()
