//! A pretrained model's own tokenizer, from its `tokenizer.json`, encoding as transformers does
//! by default (`add_special_tokens=True`: whatever the post-processor adds, a BOS for Llama).

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

    /// Token ids of `text` and the tokens that cover its bytes `span` (those whose characters
    /// overlap it; special tokens the post-processor added cover none). `None` for the tokens
    /// when no token covers the span.
    pub fn encode_span(
        &self,
        text: &str,
        span: std::ops::Range<usize>,
    ) -> Result<(Vec<u32>, Option<std::ops::Range<usize>>), PretrainedError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| PretrainedError::bad(&self.path, format!("cannot encode: {e}")))?;
        let special = encoding.get_special_tokens_mask();
        let covering: Vec<usize> = encoding
            .get_offsets()
            .iter()
            .enumerate()
            .filter(|&(i, &(start, end))| {
                special.get(i) != Some(&1) && start < end && start < span.end && end > span.start
            })
            .map(|(i, _)| i)
            .collect();
        let tokens = match (covering.first(), covering.last()) {
            (Some(&first), Some(&last)) => Some(first..last + 1),
            _ => None,
        };
        Ok((encoding.get_ids().to_vec(), tokens))
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
