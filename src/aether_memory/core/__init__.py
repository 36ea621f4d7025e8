"""Pure building blocks shared by every layer: types, ids, errors, codec, keys, config."""
