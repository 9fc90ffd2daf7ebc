import { contractDatabases } from "../testing/test-databases.js";
import { tokenStoreContract } from "./token-store.contract.js";

for (const { name, create } of await contractDatabases()) tokenStoreContract(name, create);
