"""The named steps of the answer pipeline: planner, retriever, synthesizer, verifier, critic, citation, formatter."""
