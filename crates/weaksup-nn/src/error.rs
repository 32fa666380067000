//! `weaksup-core`'s error type, and [`Context`] for libtorch errors: the message keeps libtorch's
//! first line, the C++ backtrace stays in the source (the CLI prints it with `-v`).

pub use weaksup_core::error::{Error, Result, first_line, panic_message};

/// Attach context to libtorch errors.
pub trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, tch::TchError> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Torch { context: context(), source: Box::new(source) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_errors_show_their_first_line_and_keep_the_rest_as_the_source() {
        let msg = "CUDA out of memory. Tried to allocate 2.00 GiB\nException raised from malloc at c10/cuda/CUDACachingAllocator.cpp:1000 (most recent call first):\nframe #0: c10::Error::Error(...) + 0x9e";
        let e = Err::<(), _>(tch::TchError::Torch(msg.into())).ctx(|| "training step 3".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "training step 3: Internal torch error: CUDA out of memory. Tried to allocate 2.00 GiB"
        );
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(source.contains("frame #0"), "the backtrace stays available for -v: {source}");
    }
}
