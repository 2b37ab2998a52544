/// The parser hands its label values to the store without copying them.
extension EventParser: LabelSource {}
