-- A person can make their profile private: then nothing of theirs is searchable, like a
-- takedown (schemas::searchable). Existing users stay public.
ALTER TABLE users ADD COLUMN sharing TEXT NOT NULL DEFAULT 'public'
    CHECK (sharing IN ('public', 'private'));

