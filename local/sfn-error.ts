/** A Step Functions API error (its name is the API's error code). */
export class SfnError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}
