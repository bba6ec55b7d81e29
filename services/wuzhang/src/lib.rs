//! The wuzhang binary.
