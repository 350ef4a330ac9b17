"""The DeepLight Streamlit dashboard (helpers shared by the pages in ``pages/``).

Modules here that import streamlit are ``layout`` and ``services``; every other module is plain
Python so it can be tested directly and reused outside the app.
"""
