"""Recognition: programme-defined badges awarded from what people did (sessions held, hours,
people accompanied, relationships completed, survey scores), peer kudos between the parties of
a relationship, a recognition page and a PDF certificate of a participant's contribution."""
