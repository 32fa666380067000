//! Token label models (being written).
