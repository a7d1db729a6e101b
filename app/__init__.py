"""Question answering: joins retrieval and a model backend into answers with checked citations.

The front doors (``ask`` CLI, Streamlit UI, batch analysis) are thin shells over ``app.service``.
"""
