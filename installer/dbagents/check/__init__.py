"""The static engine behind `dbagents check`: discover -> parse once -> facts -> rules -> findings."""
