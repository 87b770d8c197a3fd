//! A pretrained model's own tokenizer, from its `tokenizer.json`, encoding as transformers does
//! by default (`add_special_tokens=True`: whatever the post-processor adds, a BOS for Llama).

use std::ops::Range;
use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use super::error::PretrainedError;

pub struct HfTokenizer {
    inner: Tokenizer,
    path: PathBuf,
}

impl HfTokenizer {
    /// Loads `path` and checks that every id it can produce is a row of a model's embedding
    /// table of `vocab_size` rows.
    pub fn load(path: &Path, vocab_size: usize) -> Result<HfTokenizer, PretrainedError> {
        if !path.is_file() {
            return Err(PretrainedError::Missing { path: path.to_path_buf() });
        }
        let inner = Tokenizer::from_file(path)
            .map_err(|e| PretrainedError::bad(path, format!("not a tokenizers tokenizer.json: {e}")))?;
        let vocab = inner.get_vocab(true);
        if let Some((token, &largest)) = vocab.iter().max_by_key(|(_, &id)| id) {
            if largest as usize >= vocab_size {
                return Err(PretrainedError::bad(
                    path,
                    format!(
                        "vocabulary does not fit the model: token {token:?} has id {largest}, but config.json's vocab_size is {vocab_size}"
                    ),
                ));
            }
        }
        Ok(HfTokenizer { inner, path: path.to_path_buf() })
    }

    /// Token ids of `text`, special tokens included as the post-processor places them.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, PretrainedError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| PretrainedError::bad(&self.path, format!("cannot encode: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Token ids of `text` as [`encode`](Self::encode) gives them, and which of them cover the
    /// bytes `span` of it: the non-special tokens whose offsets overlap the span, first to last
    /// (None when none do). Encoding the whole text, not the span alone, keeps the tokens the
    /// model reads: a span's tokens depend on what surrounds it.
    pub fn encode_span(
        &self,
        text: &str,
        span: Range<usize>,
    ) -> Result<(Vec<u32>, Option<Range<usize>>), PretrainedError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| PretrainedError::bad(&self.path, format!("cannot encode: {e}")))?;
        let inside: Vec<usize> = encoding
            .get_offsets()
            .iter()
            .zip(encoding.get_special_tokens_mask())
            .enumerate()
            .filter(|(_, (&(start, end), &special))| special == 0 && start < span.end && end > span.start)
            .map(|(i, _)| i)
            .collect();
        let covered = match (inside.first(), inside.last()) {
            (Some(&first), Some(&last)) => Some(first..last + 1),
            _ => None,
        };
        Ok((encoding.get_ids().to_vec(), covered))
    }

    /// The text of `ids`, special tokens kept (transformers' `decode` default).
    pub fn decode(&self, ids: &[u32]) -> Result<String, PretrainedError> {
        self.inner.decode(ids, false).map_err(|e| PretrainedError::bad(&self.path, format!("cannot decode: {e}")))
    }

    /// Tokens in the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
