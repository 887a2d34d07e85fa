-- Placeholder for the notifications migration, which lands from its own branch and replaces this
-- file. Migration versions must be contiguous; this keeps 0003 applicable meanwhile.
SELECT 1;
