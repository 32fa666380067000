//! Token labeling functions (being written).
