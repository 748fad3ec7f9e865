"""The Streamlit-aware helpers shared by the pages. Computation lives in fusion_core."""
