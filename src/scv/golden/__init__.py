"""Golden records: survivorship (:mod:`.survivorship`), their definitions (:mod:`.policy`),
pseudonymisation (:mod:`.pseudonymise`) and MERGE publishing (:mod:`.publish`)."""
